use super::{Kind, parse};

/// The rendered error for `text`, as `torsion run` prints it.
fn error(text: &str) -> String {
    parse(text).unwrap_err().render("services.toml", text)
}

#[test]
fn a_file_of_every_kind_reads_in_order() {
    let specs = parse(
        r#"
[[service]]
name = "site"
kind = "static"
listen = "tcp:0"
path = "public"
listing = false

[[service]]
name = "api"
kind = "router"
listen = "tcp:0"
routes = [{ path = "/hello", text = "hi" }, { path = "/n", method = "POST", status = 201, json = { n = 1 } }]

[[service]]
name = "echo"
kind = "echo"
listen = "tcp:0"

[[service]]
name = "rates"
kind = "rate-poller"
source = "http://127.0.0.1:1/rate.json"
interval = 2
"#,
    )
    .unwrap();
    let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
    assert_eq!(names, ["site", "api", "echo", "rates"]);
    assert!(matches!(
        &specs[0].kind,
        Kind::Static {
            listing: false,
            hidden: false,
            ..
        }
    ));
    match &specs[1].kind {
        Kind::Router { routes } => {
            assert_eq!(routes[1].get_ref().method, "POST");
            assert_eq!(routes[1].get_ref().status, 201);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &specs[3].kind,
        Kind::RatePoller { interval, .. } if interval.as_secs() == 2
    ));
    assert!(specs[3].listen.is_none());
}

#[test]
fn an_unknown_kind_names_its_line_and_the_kinds() {
    let message = error("[[service]]\nname = \"a\"\nkind = \"ecko\"\nlisten = \"tcp:0\"\n");
    assert!(
        message.starts_with("services.toml:3: unknown kind \"ecko\""),
        "{message}"
    );
    assert!(message.contains("echo, line-chat"), "{message}");
    assert!(
        message.contains("3 | kind = \"ecko\"\n  |        ^^^^^^"),
        "{message}"
    );
}

#[test]
fn a_missing_field_names_the_service_s_line() {
    let message = error(
        "[[service]]\nname = \"a\"\nkind = \"echo\"\nlisten = \"tcp:0\"\n\n\
         [[service]]\nname = \"b\"\nkind = \"echo\"\n",
    );
    assert!(
        message.starts_with("services.toml:6: service \"b\" (echo) is missing `listen`"),
        "{message}"
    );
    let message = error("[[service]]\nkind = \"echo\"\nlisten = \"tcp:0\"\n");
    assert!(message.starts_with("services.toml:1: "), "{message}");
    assert!(message.contains("missing field `name`"), "{message}");
}

#[test]
fn a_duplicate_name_names_both_lines() {
    let message = error(
        "[[service]]\nname = \"a\"\nkind = \"echo\"\nlisten = \"tcp:0\"\n\n\
         [[service]]\nname = \"a\"\nkind = \"echo\"\nlisten = \"tcp:0\"\n",
    );
    assert!(
        message
            .starts_with("services.toml:7: a second service named \"a\" (the first is on line 2)"),
        "{message}"
    );
}

#[test]
fn a_field_of_another_kind_or_of_no_kind_is_refused_at_its_line() {
    let message =
        error("[[service]]\nname = \"a\"\nkind = \"echo\"\nlisten = \"tcp:0\"\npath = \"x\"\n");
    assert!(
        message.starts_with("services.toml:5: a echo service takes no `path`"),
        "{message}"
    );
    let message =
        error("[[service]]\nname = \"a\"\nkind = \"echo\"\nlisten = \"tcp:0\"\nport = 80\n");
    assert!(message.starts_with("services.toml:5: "), "{message}");
    assert!(message.contains("unknown field `port`"), "{message}");
}

#[test]
fn bad_toml_and_bad_values_name_their_line() {
    let message = error("[[service]]\nname = \"a\"\nkind = echo\n");
    assert!(message.starts_with("services.toml:3: "), "{message}");
    let message =
        error("[[service]]\nname = \"a\"\nkind = \"rate-poller\"\nsource = \"x\"\ninterval = -1\n");
    assert!(
        message.starts_with("services.toml:5: `interval` must be a positive"),
        "{message}"
    );
    assert_eq!(
        error(""),
        "services.toml: no services: add a [[service]] table"
    );
}

#[test]
fn a_second_rate_poller_is_refused() {
    let poller =
        "[[service]]\nname = \"{}\"\nkind = \"rate-poller\"\nsource = \"http://127.0.0.1:1/\"\n\n";
    let text = poller.replace("{}", "a") + &poller.replace("{}", "b");
    let message = error(&text);
    assert!(
        message.starts_with("services.toml:8: a second rate-poller (the first is on line 3)"),
        "{message}"
    );
}
