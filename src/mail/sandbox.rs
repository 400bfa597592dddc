//! The limits on agents' invitation templates. Agents write minijinja; a template must not be able to make
//! rondo allocate without bound, and fuel alone does not ensure that (fuel counts steps, and one step can
//! ask for gigabytes: `"ab"|indent(100000000000)`, or a string doubled by `~` a few dozen times).
//!
//! So an agent's template gets a smaller language than minijinja's whole one, and every render is bounded:
//! - Statements: `if`/`elif`/`else` and `for` only; no `set`, `with`, `macro`, `call`, `filter`, `include`,
//!   `import`, `extends` or `block`, and no operator that builds a value from others (`~`, `+`, `*`, `**`,
//!   `/`, `//`, `%`). Every value is then a variable, a literal of the source or a filter's result.
//! - Filters and tests: a fixed list of builtins whose result is no larger than a small multiple of their
//!   input; `replace`, `join` and `indent` (whose results grow with their arguments) are rondo's own, and
//!   what they produce in one render is charged against `AMPLIFY_BUDGET`; `indent` takes at most
//!   `MAX_INDENT` columns. No `escape` (it grows text by up to six times, and a case filter makes its
//!   output escapable again; the HTML part is escaped by rondo anyway). No global functions (no `range`).
//! - Output: a writer that stops the render once a part passes `MAX_PART_BYTES`.

use std::cell::Cell;
use std::io;

use minijinja::machinery::{tokenize, Token, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, Template};

/// Largest rendered part (subject, text or HTML) of any email.
pub const MAX_PART_BYTES: usize = 100 * 1024;
/// How many bytes `replace`, `join` and `indent` may produce in one render, all together.
pub const AMPLIFY_BUDGET: usize = 256 * 1024;
/// Widest `indent`.
pub const MAX_INDENT: usize = 32;

/// Statements an agent's template may use.
const STATEMENTS: [&str; 8] = [
    "if", "elif", "else", "endif", "for", "endfor", "raw", "endraw",
];

thread_local! {
    /// What is left of the current render's `AMPLIFY_BUDGET` (renders run start to end on one thread).
    static BUDGET: Cell<usize> = const { Cell::new(AMPLIFY_BUDGET) };
}

/// Checks that `source` keeps to the language agents' templates may use; the message names the line.
pub fn check_language(source: &str) -> Result<(), String> {
    let mut after_block_start = false;
    for token in tokenize(source, false, SyntaxConfig, WhitespaceConfig::default()) {
        let (token, span) = token.map_err(|e| match e.line() {
            Some(line) => format!("line {line}: {}", e.detail().unwrap_or("syntax error")),
            None => e.to_string(),
        })?;
        let line = span.start_line;
        if after_block_start {
            after_block_start = false;
            match token {
                Token::Ident(word) if STATEMENTS.contains(&word) => {}
                Token::Ident(word) => {
                    return Err(format!(
                        "line {line}: `{{% {word} %}}` is not available in invitation templates; use {}",
                        "`if`/`elif`/`else` and `for`"
                    ))
                }
                _ => return Err(format!("line {line}: a statement name must follow `{{%`")),
            }
        }
        let operator = match token {
            Token::BlockStart => {
                after_block_start = true;
                continue;
            }
            Token::Tilde => "~",
            Token::Plus => "+",
            Token::Mul => "*",
            Token::Pow => "**",
            Token::Div => "/",
            Token::FloorDiv => "//",
            Token::Mod => "%",
            _ => continue,
        };
        return Err(format!(
            "line {line}: the operator `{operator}` is not available in invitation templates"
        ));
    }
    Ok(())
}

/// An environment with only the filters and tests agents' templates may use, and no globals.
pub fn environment() -> Environment<'static> {
    use minijinja::{filters as f, tests as t};
    let mut env = Environment::empty();
    env.add_filter("lower", f::lower);
    env.add_filter("upper", f::upper);
    env.add_filter("title", f::title);
    env.add_filter("capitalize", f::capitalize);
    env.add_filter("trim", f::trim);
    env.add_filter("length", f::length);
    env.add_filter("count", f::length);
    env.add_filter("default", f::default);
    env.add_filter("d", f::default);
    env.add_filter("first", f::first);
    env.add_filter("last", f::last);
    env.add_filter("reverse", f::reverse);
    env.add_filter("string", f::string);
    env.add_filter("lines", f::lines);
    env.add_filter("list", f::list);
    env.add_filter("int", f::int);
    env.add_filter("float", f::float);
    env.add_filter("abs", f::abs);
    env.add_filter("round", f::round);
    env.add_filter("replace", replace);
    env.add_filter("join", join);
    env.add_filter("indent", indent);
    env.add_test("defined", t::is_defined);
    env.add_test("undefined", t::is_undefined);
    env.add_test("none", t::is_none);
    env.add_test("string", t::is_string);
    env.add_test("number", t::is_number);
    env.add_test("true", t::is_true);
    env.add_test("false", t::is_false);
    env.add_test("eq", t::is_eq);
    env.add_test("ne", t::is_ne);
    env.add_test("in", t::is_in);
    env.add_test("startingwith", t::is_startingwith);
    env.add_test("endingwith", t::is_endingwith);
    env.add_test("lower", t::is_lower);
    env.add_test("upper", t::is_upper);
    env.add_test("odd", t::is_odd);
    env.add_test("even", t::is_even);
    env
}

/// Renders with a fresh `AMPLIFY_BUDGET`, stopping once the output passes `MAX_PART_BYTES`.
pub fn render(template: &Template, ctx: &Value) -> Result<String, Error> {
    BUDGET.with(|b| b.set(AMPLIFY_BUDGET));
    let mut out = Capped {
        buf: Vec::new(),
        over: false,
    };
    match template.render_captured_to(ctx, &mut out) {
        Ok(_) => {}
        Err(_) if out.over => return Err(too_long()),
        Err(e) => return Err(e),
    }
    String::from_utf8(out.buf).map_err(|_| Error::new(ErrorKind::BadSerialization, "not UTF-8"))
}

/// The error of a part that renders to more than `MAX_PART_BYTES`.
pub fn too_long() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("renders to more than {} KB", MAX_PART_BYTES / 1024),
    )
}

struct Capped {
    buf: Vec<u8>,
    over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_PART_BYTES {
            self.over = true;
            return Err(io::Error::other("rendered part too long"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Takes `bytes` from the current render's budget, or fails naming `filter`.
fn charge(filter: &str, bytes: usize) -> Result<(), Error> {
    BUDGET.with(|b| match b.get().checked_sub(bytes) {
        Some(left) => {
            b.set(left);
            Ok(())
        }
        None => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`{filter}` would produce more text than a template may ({} KB in all)",
                AMPLIFY_BUDGET / 1024
            ),
        )),
    })
}

fn replace(value: String, from: String, to: String) -> Result<String, Error> {
    // An empty pattern matches between every character and at both ends, as `str::replace` does.
    let hits = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from.as_str()).count()
    };
    let size = value
        .len()
        .saturating_sub(hits.saturating_mul(from.len()))
        .saturating_add(hits.saturating_mul(to.len()));
    charge("replace", size)?;
    Ok(value.replace(from.as_str(), &to))
}

fn join(value: Value, joiner: Option<String>) -> Result<String, Error> {
    let joiner = joiner.unwrap_or_default();
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        let text = item.to_string();
        let add = text.len() + if i > 0 { joiner.len() } else { 0 };
        charge("join", add)?;
        if i > 0 {
            out.push_str(&joiner);
        }
        out.push_str(&text);
    }
    Ok(out)
}

fn indent(
    value: String,
    width: Option<usize>,
    first: Option<bool>,
    blank: Option<bool>,
) -> Result<String, Error> {
    let width = width.unwrap_or(4);
    if width > MAX_INDENT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`indent` takes at most {MAX_INDENT} columns"),
        ));
    }
    let pad = " ".repeat(width);
    let mut out = String::new();
    for (i, line) in value.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if (i > 0 || first.unwrap_or(false)) && (blank.unwrap_or(false) || !line.trim().is_empty())
        {
            charge("indent", width)?;
            out.push_str(&pad);
        }
        charge("indent", line.len() + 1)?;
        out.push_str(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn render_str(source: &str) -> Result<String, String> {
        check_language(source)?;
        let env = environment();
        let t = env.template_from_str(source).map_err(|e| e.to_string())?;
        render(
            &t,
            &Value::from_serialize(serde_json::json!({"name": "Vera"})),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_language_keeps_what_emails_need() {
        let ok = "Hello {{ name|title }},\n{% if name is defined and name != \"x\" %}hi{% else %}no{% endif %}\
                  {% for l in name|lines %}{{ loop.index }}: {{ l|indent(2)|replace(\"V\", \"W\") }}{% endfor %}\
                  {{ [name, name]|join(\", \") }} {{ -1|abs }} {% raw %}{{ x ~ y }}{% endraw %}";
        assert_eq!(
            render_str(ok).unwrap(),
            "Hello Vera,\nhi1: WeraVera, Vera 1 {{ x ~ y }}"
        );
    }

    #[test]
    fn statements_and_operators_that_build_values_are_refused_naming_the_line() {
        for (source, said) in [
            ("a\n{% set x = 1 %}", "line 2: `{% set %}`"),
            ("{%- macro m() %}{% endmacro %}", "line 1: `{% macro %}`"),
            ("{% include \"en/text\" %}", "`{% include %}`"),
            ("x\n\n{{ name ~ name }}", "line 3: the operator `~`"),
            ("{{ \"ab\" * 1000000 }}", "the operator `*`"),
            ("{{ name + name }}", "the operator `+`"),
            ("{{ 2 ** 64 }}", "the operator `**`"),
            ("{{ \"%s\" % name }}", "the operator `%`"),
        ] {
            let e = check_language(source).unwrap_err();
            assert!(e.contains(said), "{source}: {e}");
        }
    }

    #[test]
    fn filters_that_grow_text_are_bounded() {
        assert!(render_str("{{ \"ab\"|indent(100000000000) }}")
            .unwrap_err()
            .contains("at most 32 columns"));
        // 2^40 bytes if `replace` were free; the budget stops it at once.
        let doubling = format!(
            "{{{{ name{} }}}}",
            "|replace(\"\", \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\")".repeat(40)
        );
        assert!(render_str(&doubling).unwrap_err().contains("`replace`"));
        assert!(render_str("{{ [name, name, name]|join(\"x\"|indent(32)) }}").is_ok());
        // Unknown (and so unbounded) builtins are not there.
        for f in [
            "slice(1000000000)",
            "batch(1000000000)",
            "format(1)",
            "pprint",
            "escape",
        ] {
            assert!(render_str(&format!("{{{{ [1]|{f} }}}}")).is_err(), "{f}");
        }
        assert!(render_str("{% for i in range(10) %}{% endfor %}").is_err());
    }

    #[test]
    fn a_render_stops_at_the_part_limit() {
        let line = "y".repeat(1000);
        let source = format!(
            "{{% for a in [1,2,3,4,5,6,7,8,9,10] %}}{{% for b in [1,2,3,4,5,6,7,8,9,10] %}}{{% for c in [1,2] %}}{line}{{% endfor %}}{{% endfor %}}{{% endfor %}}"
        );
        assert!(render_str(&source).unwrap_err().contains("100 KB"));
        let fits = format!("{{% for a in [1,2,3,4,5,6,7,8,9,10] %}}{line}{{% endfor %}}");
        assert_eq!(render_str(&fits).unwrap().len(), 10_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Any text: the check and the render answer (Ok or a message), never panic, and a render's output
        /// stays under the cap.
        #[test]
        fn any_source_is_answered_without_panic(source in "(\\{\\{|\\}\\}|\\{%|%\\}|[a-z|~*+()\"\\[\\], 0-9.=-]|\n){0,80}") {
            if let Ok(out) = render_str(&source) {
                prop_assert!(out.len() <= MAX_PART_BYTES);
            }
        }
    }
}
