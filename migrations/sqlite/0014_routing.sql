-- Routing before round robin (issue 16): daily limits, account owners and custom rules.

-- Meetings a day per agent, in the agent's own day: the team's, overridden by the agent's own (NULL: none).
ALTER TABLE teams ADD COLUMN daily_limit INTEGER;
ALTER TABLE agents ADD COLUMN daily_limit INTEGER;

-- A team's account owners: a visitor whose email or company domain is `domain` (or below it) goes to
-- `agent_id` first.
CREATE TABLE account_owners (
    team_id   TEXT NOT NULL REFERENCES teams (id),
    domain    TEXT NOT NULL,
    agent_id  TEXT NOT NULL REFERENCES agents (id),
    PRIMARY KEY (team_id, domain)
);

-- A team's custom rules in priority order; `conditions` and `agents` are JSON arrays. `last_agent_id` is the
-- rule's own round-robin pointer, kept by name when the list is replaced.
CREATE TABLE routing_rules (
    team_id        TEXT NOT NULL REFERENCES teams (id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    conditions     TEXT NOT NULL,
    agents         TEXT NOT NULL,
    last_agent_id  TEXT,
    PRIMARY KEY (team_id, position)
);
CREATE UNIQUE INDEX routing_rules_name ON routing_rules (team_id, name);
