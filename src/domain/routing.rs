//! Routing (DESIGN.md "Round robin"): the order in which a team's agents are asked for a slot — the
//! visitor's account owner, then the agents of the custom rules the visitor matches, then the team's
//! rotation — and why an agent asked was passed over. Pure decisions; the caller loads the queue, the
//! pointers and the routing table and stores the result.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::availability::SlotCheck;
use super::values::{EmailAddress, Invalid};

/// Why a candidate did not get the meeting; stored in the meeting's decision trace. The `owner_…` reasons
/// are the account owner's, asked first: routing then falls through to the rules and the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Busy,
    Paused,
    Disconnected,
    OutsideHours,
    /// The agent has as many meetings that day (in its own zone) as its daily limit allows.
    DailyLimit,
    OwnerBusy,
    OwnerPaused,
    OwnerDisconnected,
    OwnerOutsideHours,
    OwnerDailyLimit,
    /// The account's owner is no longer in the team's queue.
    OwnerNotInTeam,
}

impl SkipReason {
    /// The reason as the account step reports it for the owner.
    pub fn for_owner(self) -> Self {
        match self {
            SkipReason::Busy => SkipReason::OwnerBusy,
            SkipReason::Paused => SkipReason::OwnerPaused,
            SkipReason::Disconnected => SkipReason::OwnerDisconnected,
            SkipReason::OutsideHours => SkipReason::OwnerOutsideHours,
            SkipReason::DailyLimit => SkipReason::OwnerDailyLimit,
            owner => owner,
        }
    }
}

/// Which routing step chose the agent (or asked a skipped one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStep {
    /// The owner of the visitor's company domain.
    Account,
    /// A custom rule the visitor's attributes match.
    Rule,
    RoundRobin,
}

/// What is known about one candidate for one requested slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateState {
    pub paused: bool,
    pub connected: bool,
    pub slot: SlotCheck,
}

/// The queue in the order candidates are asked: starting right after `pointer` (the agent who took the last
/// meeting), wrapping around, each member once. Without a pointer in the queue, plain queue order.
pub fn rotation<T: PartialEq + Clone>(queue: &[T], pointer: Option<&T>) -> Vec<T> {
    let first = pointer
        .and_then(|p| queue.iter().position(|q| q == p))
        .map_or(0, |i| i + 1);
    let (before, after) = queue.split_at(first);
    after.iter().chain(before).cloned().collect()
}

/// Whether a candidate may take the slot, or the one reason it is skipped (checked in the order paused,
/// disconnected, outside hours, busy, so the trace names the most basic cause).
pub fn classify(state: &CandidateState) -> Result<(), SkipReason> {
    if state.paused {
        return Err(SkipReason::Paused);
    }
    if !state.connected {
        return Err(SkipReason::Disconnected);
    }
    match state.slot {
        SlotCheck::OutsideHours => Err(SkipReason::OutsideHours),
        SlotCheck::Busy => Err(SkipReason::Busy),
        SlotCheck::Free => Ok(()),
    }
}

/// Longest domain name (RFC 1035).
const MAX_DOMAIN_LEN: usize = 253;

/// A company domain as account routing keys it: lowercase host name with at least one dot (`acme.com`),
/// without a trailing dot or a leading `www.`.
pub fn parse_domain(raw: &str) -> Result<String, Invalid> {
    let bad = || Invalid("must be a domain name like acme.com".into());
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let d = d.strip_prefix("www.").unwrap_or(&d).to_owned();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_numeric = d
        .rsplit('.')
        .next()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()));
    if d.len() > MAX_DOMAIN_LEN || !d.contains('.') || tld_numeric || !d.split('.').all(label_ok) {
        return Err(bad());
    }
    Ok(d)
}

/// The domain a visitor's `company` names, when it names one: `acme.com`, `www.acme.com` or
/// `https://acme.com/about`. A company name (`Acme Inc.`) names none.
pub fn company_domain(company: &str) -> Option<String> {
    let c = company.trim();
    let c = c
        .strip_prefix("https://")
        .or_else(|| c.strip_prefix("http://"))
        .unwrap_or(c);
    let host = c.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    parse_domain(host).ok()
}

/// What routing knows of the visitor: the domains that may name an account, and the booking's attributes.
#[derive(Debug, Clone, Default)]
pub struct VisitorFacts {
    pub email_domain: Option<String>,
    pub company_domain: Option<String>,
    pub attributes: Map<String, Value>,
}

impl VisitorFacts {
    pub fn new(
        email: Option<&EmailAddress>,
        company: Option<&str>,
        attributes: Map<String, Value>,
    ) -> Self {
        Self {
            email_domain: email.and_then(|e| parse_domain(e.domain()).ok()),
            company_domain: company.and_then(company_domain),
            attributes,
        }
    }
}

/// A team's account owners: company domain → the agent who owns the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountOwners(HashMap<String, Uuid>);

impl AccountOwners {
    pub fn new(owners: impl IntoIterator<Item = (String, Uuid)>) -> Self {
        Self(owners.into_iter().collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The listed domain that owns the visitor's account, and its owner: the email's domain first, then
    /// the company's; a domain matches itself and its subdomains (`eu.acme.com` is `acme.com`'s), the most
    /// specific listed domain winning.
    pub fn owner_of(&self, visitor: &VisitorFacts) -> Option<(&str, Uuid)> {
        [&visitor.email_domain, &visitor.company_domain]
            .into_iter()
            .flatten()
            .find_map(|d| self.most_specific(d))
    }

    fn most_specific(&self, domain: &str) -> Option<(&str, Uuid)> {
        let mut rest = domain;
        loop {
            if let Some((d, owner)) = self.0.get_key_value(rest) {
                return Some((d.as_str(), *owner));
            }
            // Never down to a bare top-level domain: it takes a dot to be listed.
            rest = rest
                .split_once('.')
                .map(|(_, r)| r)
                .filter(|r| r.contains('.'))?;
        }
    }
}

/// Longest attribute name or rule name.
pub const MAX_NAME: usize = 100;
/// Most values an `in` condition lists.
pub const MAX_IN_VALUES: usize = 500;

/// One condition of a custom rule, on one of the booking's attributes. Serialized as the admin API shows
/// it: `{"attribute":"state","op":"in","value":["CA","OR"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    /// The attribute equals the value (strings trimmed and compared ignoring case, numbers by value; an
    /// array attribute holds when one of its items does).
    Equals { attribute: String, value: Value },
    /// The attribute equals one of the values.
    In {
        attribute: String,
        #[serde(rename = "value")]
        values: Vec<Value>,
    },
    /// The attribute is present, not null and not an empty string.
    Exists { attribute: String },
}

/// What is wrong with a condition as sent: the part at fault (`attribute`, `op` or `value`) and why.
pub type ConditionError = (&'static str, String);

impl Condition {
    /// A condition from its parts as sent: `op` is `equals` (a string, number or boolean `value`), `in` (a
    /// non-empty array of those) or `exists` (no `value`).
    pub fn parse(attribute: &str, op: &str, value: Option<&Value>) -> Result<Self, ConditionError> {
        let attribute = attribute.trim();
        if attribute.is_empty() || attribute.chars().count() > MAX_NAME {
            return Err((
                "attribute",
                format!("must be an attribute name of 1 to {MAX_NAME} characters"),
            ));
        }
        let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let attribute = attribute.to_owned();
        match (op, value) {
            ("equals", Some(v)) if scalar(v) => Ok(Condition::Equals {
                attribute,
                value: v.clone(),
            }),
            ("equals", _) => Err(("value", "must be a string, number or boolean".into())),
            ("in", Some(Value::Array(vs)))
                if !vs.is_empty() && vs.len() <= MAX_IN_VALUES && vs.iter().all(scalar) =>
            {
                Ok(Condition::In {
                    attribute,
                    values: vs.clone(),
                })
            }
            ("in", _) => Err((
                "value",
                format!("must be an array of 1 to {MAX_IN_VALUES} strings, numbers or booleans"),
            )),
            ("exists", None | Some(Value::Null)) => Ok(Condition::Exists { attribute }),
            ("exists", Some(_)) => Err(("value", "`exists` takes no value".into())),
            _ => Err(("op", "must be `equals`, `in` or `exists`".into())),
        }
    }

    pub fn attribute(&self) -> &str {
        match self {
            Condition::Equals { attribute, .. }
            | Condition::In { attribute, .. }
            | Condition::Exists { attribute } => attribute,
        }
    }

    pub fn holds(&self, attributes: &Map<String, Value>) -> bool {
        let found = attributes.get(self.attribute());
        match self {
            Condition::Exists { .. } => match found {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(_) => true,
            },
            Condition::Equals { value, .. } => {
                found.is_some_and(|f| any_item(f, |item| same_scalar(item, value)))
            }
            Condition::In { values, .. } => found
                .is_some_and(|f| any_item(f, |item| values.iter().any(|v| same_scalar(item, v)))),
        }
    }
}

fn any_item(v: &Value, pred: impl Fn(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(pred),
        one => pred(one),
    }
}

/// Whether two scalars are the same for a rule: numbers (or numeric strings) by value, otherwise the text
/// trimmed and ignoring case (`"CA"` is `" ca "`, `5` is `"5.0"`, `true` is `"true"`).
fn same_scalar(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => matches!((text(a), text(b)), (Some(x), Some(y)) if x == y),
    }
}

/// A custom rule: when all of `when` hold, the meeting goes to one of `agents` (round robin among them,
/// with the rule's own pointer).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub when: Vec<Condition>,
    pub agents: Vec<Uuid>,
}

impl Rule {
    pub fn matches(&self, attributes: &Map<String, Value>) -> bool {
        !self.when.is_empty() && self.when.iter().all(|c| c.holds(attributes))
    }
}

/// What a team routes by before its rotation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingTable {
    pub accounts: AccountOwners,
    /// In priority order.
    pub rules: Vec<Rule>,
}

/// One agent to ask, and the step that asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub agent: Uuid,
    pub step: RoutingStep,
    /// The rule's index in the table, for `RoutingStep::Rule`.
    pub rule: Option<usize>,
}

/// Who to ask for a visitor's slot, in order, each agent once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub asks: Vec<Ask>,
    /// The listed domain that matched the visitor, if one did.
    pub account: Option<String>,
    /// The matched account's owner when it is no longer in the queue (the trace says so).
    pub owner_not_in_team: Option<Uuid>,
}

/// The order in which `queue` (the team's agents in queue order) is asked for a visitor's slot: the account
/// owner, then the agents of each rule the visitor matches (in rule order, each rule's agents from right
/// after its own pointer), then the whole queue from right after the team's pointer. An agent already asked
/// is not asked again; agents no longer in the queue are never asked.
pub fn plan(
    table: &RoutingTable,
    visitor: &VisitorFacts,
    queue: &[Uuid],
    team_pointer: Option<Uuid>,
    rule_pointer: impl Fn(&str) -> Option<Uuid>,
) -> Plan {
    let in_queue: HashSet<Uuid> = queue.iter().copied().collect();
    let mut asked = HashSet::new();
    let mut out = Plan::default();
    let mut ask = |out: &mut Plan, agent: Uuid, step, rule| {
        if in_queue.contains(&agent) && asked.insert(agent) {
            out.asks.push(Ask { agent, step, rule });
        }
    };
    if let Some((domain, owner)) = table.accounts.owner_of(visitor) {
        out.account = Some(domain.to_owned());
        if in_queue.contains(&owner) {
            ask(&mut out, owner, RoutingStep::Account, None);
        } else {
            out.owner_not_in_team = Some(owner);
        }
    }
    for (i, rule) in table.rules.iter().enumerate() {
        if !rule.matches(&visitor.attributes) {
            continue;
        }
        let pointer = rule_pointer(&rule.name);
        for agent in rotation(&rule.agents, pointer.as_ref()) {
            ask(&mut out, agent, RoutingStep::Rule, Some(i));
        }
    }
    for agent in rotation(queue, team_pointer.as_ref()) {
        ask(&mut out, agent, RoutingStep::RoundRobin, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rotation_starts_right_after_the_pointer_and_wraps() {
        let queue = [1, 2, 3, 4, 5];
        assert_eq!(rotation(&queue, Some(&3)), [4, 5, 1, 2, 3]);
        assert_eq!(rotation(&queue, Some(&5)), [1, 2, 3, 4, 5]);
        assert_eq!(rotation(&queue, None), [1, 2, 3, 4, 5]);
        assert_eq!(rotation(&queue, Some(&9)), [1, 2, 3, 4, 5]);
        assert!(rotation::<i32>(&[], Some(&1)).is_empty());
    }

    #[test]
    fn classify_names_the_most_basic_reason() {
        let state = |paused, connected, slot| CandidateState {
            paused,
            connected,
            slot,
        };
        assert_eq!(
            classify(&state(true, false, SlotCheck::Busy)),
            Err(SkipReason::Paused)
        );
        assert_eq!(
            classify(&state(false, false, SlotCheck::OutsideHours)),
            Err(SkipReason::Disconnected)
        );
        assert_eq!(
            classify(&state(false, true, SlotCheck::OutsideHours)),
            Err(SkipReason::OutsideHours)
        );
        assert_eq!(
            classify(&state(false, true, SlotCheck::Busy)),
            Err(SkipReason::Busy)
        );
        assert_eq!(classify(&state(false, true, SlotCheck::Free)), Ok(()));
    }

    #[test]
    fn skip_reasons_serialize_in_snake_case() {
        let json = serde_json::to_string(&[SkipReason::OutsideHours, SkipReason::Busy]).unwrap();
        assert_eq!(json, r#"["outside_hours","busy"]"#);
        assert_eq!(
            serde_json::to_string(&RoutingStep::RoundRobin).unwrap(),
            r#""round_robin""#
        );
    }

    #[test]
    fn domains_are_normalized_and_company_names_name_none() {
        assert_eq!(parse_domain(" WWW.Acme.COM. ").unwrap(), "acme.com");
        for bad in ["acme", "acme..com", "-acme.com", "acme.123", "a b.com", ""] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            company_domain("https://www.acme.com/about?x=1").as_deref(),
            Some("acme.com")
        );
        assert_eq!(company_domain("acme.co.uk").as_deref(), Some("acme.co.uk"));
        assert_eq!(company_domain("Acme Inc."), None);
    }

    #[test]
    fn an_account_matches_its_domain_and_subdomains_most_specific_first() {
        let (acme, eu) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let owners = AccountOwners::new([("acme.com".into(), acme), ("eu.acme.com".into(), eu)]);
        let facts = |email: &str, company: Option<&str>| {
            VisitorFacts::new(
                Some(&EmailAddress::parse(email).unwrap()),
                company,
                Map::new(),
            )
        };
        assert_eq!(
            owners.owner_of(&facts("a@acme.com", None)),
            Some(("acme.com", acme))
        );
        assert_eq!(
            owners.owner_of(&facts("a@x.eu.acme.com", None)),
            Some(("eu.acme.com", eu))
        );
        assert_eq!(
            owners.owner_of(&facts("a@gmail.com", Some("www.acme.com"))),
            Some(("acme.com", acme))
        );
        assert_eq!(owners.owner_of(&facts("a@notacme.com", None)), None);
        // Never a bare top-level domain, even if one were listed.
        let com = AccountOwners::new([("com".into(), acme)]);
        assert_eq!(com.owner_of(&facts("a@acme.com", None)), None);
    }

    #[test]
    fn conditions_compare_loosely_and_all_must_hold() {
        let attrs: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "state": " ca ", "size": "1000", "tags": ["a", "B"], "empty": "", "none": null, "vip": true
        }))
        .unwrap();
        let c = |a: &str, op: &str, v: Option<Value>| Condition::parse(a, op, v.as_ref()).unwrap();
        let j = |v: serde_json::Value| Some(v);
        assert!(c("state", "equals", j("CA".into())).holds(&attrs));
        assert!(c("size", "equals", j(1000.into())).holds(&attrs));
        assert!(c("size", "in", j(serde_json::json!([5, 1000.0]))).holds(&attrs));
        assert!(c("tags", "equals", j("b".into())).holds(&attrs));
        assert!(c("vip", "equals", j("true".into())).holds(&attrs));
        assert!(!c("state", "equals", j("NY".into())).holds(&attrs));
        assert!(c("state", "exists", None).holds(&attrs));
        for absent in ["empty", "none", "missing"] {
            assert!(!c(absent, "exists", None).holds(&attrs), "{absent}");
        }
        let rule = Rule {
            name: "r".into(),
            when: vec![
                c("state", "exists", None),
                c("size", "equals", j("5".into())),
            ],
            agents: vec![],
        };
        assert!(!rule.matches(&attrs));
        assert!(Condition::parse("x", "gt", Some(&Value::from(1))).is_err());
        assert_eq!(
            Condition::parse("x", "in", Some(&Value::from("CA")))
                .unwrap_err()
                .0,
            "value"
        );
        // Stored and shown as the admin API spells it.
        assert_eq!(
            serde_json::to_value(c("state", "in", j(serde_json::json!(["CA"])))).unwrap(),
            serde_json::json!({"op": "in", "attribute": "state", "value": ["CA"]})
        );
    }

    #[test]
    fn the_plan_asks_owner_then_matching_rules_then_the_rotation_each_agent_once() {
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        let queue = [a, b, c, d];
        let table = RoutingTable {
            accounts: AccountOwners::new([("acme.com".into(), c)]),
            rules: vec![
                Rule {
                    name: "never".into(),
                    when: vec![Condition::Exists {
                        attribute: "nope".into(),
                    }],
                    agents: vec![a],
                },
                Rule {
                    name: "west".into(),
                    when: vec![Condition::Exists {
                        attribute: "state".into(),
                    }],
                    agents: vec![b, c, d],
                },
            ],
        };
        let mut attrs = Map::new();
        attrs.insert("state".into(), "CA".into());
        let visitor = VisitorFacts::new(
            Some(&EmailAddress::parse("x@acme.com").unwrap()),
            None,
            attrs,
        );
        let pointers = |rule: &str| (rule == "west").then_some(b);
        let p = plan(&table, &visitor, &queue, Some(a), pointers);
        let order: Vec<_> = p.asks.iter().map(|k| (k.agent, k.step, k.rule)).collect();
        assert_eq!(
            order,
            [
                (c, RoutingStep::Account, None),
                (d, RoutingStep::Rule, Some(1)),
                (b, RoutingStep::Rule, Some(1)),
                (a, RoutingStep::RoundRobin, None),
            ]
        );
        assert_eq!(p.account.as_deref(), Some("acme.com"));
        // An owner who left the queue is reported, and never asked; anonymous visitors get the rotation.
        let p = plan(&table, &visitor, &[a, b, d], Some(a), pointers);
        assert_eq!(p.owner_not_in_team, Some(c));
        assert_eq!(p.asks[0].agent, d);
        let p = plan(&table, &VisitorFacts::default(), &queue, Some(b), |_| None);
        let order: Vec<_> = p.asks.iter().map(|k| k.agent).collect();
        assert_eq!(order, [c, d, a, b]);
        assert!(p.asks.iter().all(|k| k.step == RoutingStep::RoundRobin));
    }

    #[test]
    fn owner_reasons_are_prefixed() {
        assert_eq!(SkipReason::Busy.for_owner(), SkipReason::OwnerBusy);
        assert_eq!(
            SkipReason::DailyLimit.for_owner(),
            SkipReason::OwnerDailyLimit
        );
        assert_eq!(
            serde_json::to_string(&SkipReason::OwnerDailyLimit).unwrap(),
            r#""owner_daily_limit""#
        );
    }

    proptest! {
        #[test]
        fn rotation_asks_everyone_once_starting_after_the_pointer(
            queue in prop::collection::btree_set(0u8..50, 0..12).prop_map(|s| s.into_iter().collect::<Vec<_>>()),
            pointer in prop::option::of(0u8..60),
        ) {
            let order = rotation(&queue, pointer.as_ref());
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &queue);
            match pointer.and_then(|p| queue.iter().position(|&q| q == p)) {
                Some(i) => prop_assert_eq!(order[0], queue[(i + 1) % queue.len()]),
                None => prop_assert_eq!(&order, &queue),
            }
        }

        #[test]
        fn free_agents_share_meetings_evenly(agents in 1usize..12, rounds in 1usize..6) {
            let queue: Vec<usize> = (0..agents).collect();
            let mut taken = vec![0; agents];
            let mut pointer = None;
            for _ in 0..agents * rounds {
                let chosen = rotation(&queue, pointer.as_ref())[0];
                taken[chosen] += 1;
                pointer = Some(chosen);
            }
            prop_assert!(taken.iter().all(|&n| n == rounds));
        }
    }
}
