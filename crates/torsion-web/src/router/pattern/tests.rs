use super::*;

fn params(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let pattern = Pattern::parse(pattern).unwrap();
    let path = SplitPath::new(path).unwrap();
    pattern.matches(&path).map(|found| found.params)
}

fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    )
}

#[test]
fn literal_patterns_match_exactly() {
    assert_eq!(params("/", "/"), pairs(&[]));
    assert_eq!(params("/users", "/users"), pairs(&[]));
    assert_eq!(params("/users/all", "/users/all"), pairs(&[]));
    assert_eq!(params("/users", "/user"), None);
    assert_eq!(params("/users", "/users/all"), None);
    assert_eq!(params("/users/all", "/users"), None);
    assert_eq!(params("/", "/users"), None);
    assert_eq!(params("/users", "/"), None);
    assert_eq!(params("/Users", "/users"), None, "case matters");
}

#[test]
fn a_trailing_slash_is_part_of_the_pattern() {
    assert_eq!(params("/users/", "/users/"), pairs(&[]));
    assert_eq!(params("/users/", "/users"), None);
    assert_eq!(params("/users", "/users/"), None);
    assert_eq!(params("/users/{id}/", "/users/7/"), pairs(&[("id", "7")]));
    assert_eq!(params("/users/{id}/", "/users/7"), None);
}

#[test]
fn empty_segments_do_not_match_parameters_or_literals() {
    assert_eq!(params("/a/b", "/a//b"), None);
    assert_eq!(params("/a/{x}/b", "/a//b"), None);
    assert_eq!(params("/{x}", "//"), None);
}

#[test]
fn a_wildcard_at_the_root_keeps_the_slashes_of_an_empty_first_segment() {
    // Found by the route matching property test: `//` read as the root
    // with a trailing slash, and the wildcard lost its `/`.
    assert_eq!(params("/{*rest}", "//"), pairs(&[("rest", "/")]));
    assert_eq!(params("/{*rest}", "//a"), pairs(&[("rest", "/a")]));
    assert_eq!(params("/a/{*rest}", "/a//"), pairs(&[("rest", "/")]));
    assert_eq!(params("/", "//"), None);
}

#[test]
fn plain_parameters_take_one_whole_segment() {
    assert_eq!(params("/users/{id}", "/users/42"), pairs(&[("id", "42")]));
    assert_eq!(params("/users/{id}", "/users/bob"), pairs(&[("id", "bob")]));
    assert_eq!(params("/users/{id}", "/users/a/b"), None);
    assert_eq!(
        params("/{a}/{b}/{c}", "/x/y/z"),
        pairs(&[("a", "x"), ("b", "y"), ("c", "z")])
    );
    assert_eq!(
        params("/repos/{owner}/{repo}/issues", "/repos/me/it/issues"),
        pairs(&[("owner", "me"), ("repo", "it")])
    );
}

#[test]
fn int_parameters_take_digits_with_an_optional_sign() {
    assert_eq!(params("/n/{n:int}", "/n/0"), pairs(&[("n", "0")]));
    assert_eq!(params("/n/{n:int}", "/n/-12"), pairs(&[("n", "-12")]));
    assert_eq!(params("/n/{n:int}", "/n/007"), pairs(&[("n", "007")]));
    assert_eq!(params("/n/{n:int}", "/n/abc"), None);
    assert_eq!(params("/n/{n:int}", "/n/12abc"), None);
    assert_eq!(params("/n/{n:int}", "/n/-"), None);
    assert_eq!(params("/n/{n:int}", "/n/+1"), None);
    assert_eq!(params("/n/{n:int}", "/n/1.5"), None);
    assert_eq!(params("/n/{n:int}", "/n/%31%32"), pairs(&[("n", "12")]));
}

#[test]
fn float_parameters_take_finite_numbers() {
    assert_eq!(params("/f/{x:float}", "/f/1.5"), pairs(&[("x", "1.5")]));
    assert_eq!(params("/f/{x:float}", "/f/-2e3"), pairs(&[("x", "-2e3")]));
    assert_eq!(params("/f/{x:float}", "/f/3"), pairs(&[("x", "3")]));
    assert_eq!(params("/f/{x:float}", "/f/inf"), None);
    assert_eq!(params("/f/{x:float}", "/f/NaN"), None);
    assert_eq!(params("/f/{x:float}", "/f/one"), None);
}

#[test]
fn segments_are_percent_decoded_one_by_one() {
    assert_eq!(
        params("/files/{name}", "/files/a%20b"),
        pairs(&[("name", "a b")])
    );
    assert_eq!(
        params("/files/{name}", "/files/a%2Fb"),
        pairs(&[("name", "a/b")]),
        "an encoded slash stays inside its segment"
    );
    assert_eq!(params("/café", "/caf%C3%A9"), pairs(&[]));
    assert_eq!(params("/a b", "/a%20b"), pairs(&[]));
    assert_eq!(
        params("/{x}", "/%zz"),
        pairs(&[("x", "%zz")]),
        "bad escapes stay as they are"
    );
    assert_eq!(SplitPath::new("/%FF"), Err(NotUtf8));
}

#[test]
fn a_wildcard_takes_the_rest_of_the_path() {
    assert_eq!(
        params("/files/{*rest}", "/files/a/b/c.txt"),
        pairs(&[("rest", "a/b/c.txt")])
    );
    assert_eq!(
        params("/files/{*rest}", "/files/a/"),
        pairs(&[("rest", "a/")])
    );
    assert_eq!(params("/files/{*rest}", "/files/"), pairs(&[("rest", "")]));
    assert_eq!(
        params("/files/{*rest}", "/files"),
        None,
        "the slash before it is needed"
    );
    assert_eq!(params("/files/{*rest}", "/other/a"), None);
    assert_eq!(params("/{*all}", "/"), pairs(&[("all", "")]));
    assert_eq!(params("/{*all}", "/x/y"), pairs(&[("all", "x/y")]));
    assert_eq!(
        params("/u/{id}/{*rest}", "/u/7/a%20b/c"),
        pairs(&[("id", "7"), ("rest", "a b/c")])
    );
}

#[test]
fn bad_patterns_are_refused_with_a_reason() {
    let reason = |text: &str| Pattern::parse(text).unwrap_err().to_string();
    assert!(reason("users").contains("starts with `/`"));
    assert!(reason("/a//b").contains("empty segment"));
    assert!(reason("/file.{ext}").contains("whole segment"));
    assert!(reason("/{id").contains("ends with `}`"));
    assert!(reason("/{*rest}/more").contains("last segment"));
    assert!(reason("/{*rest}/").contains("last segment"));
    assert!(reason("/{id:uuid}").contains("unknown parameter type `uuid`"));
    assert!(reason("/{}").contains("parameter name"));
    assert!(reason("/{a-b}").contains("parameter name"));
    assert!(reason("/{id}/{id}").contains("appears twice"));
}

#[test]
fn literals_beat_typed_beat_plain_parameters_beat_wildcards() {
    let rank = |text: &str| Pattern::parse(text).unwrap().specificity(false);
    assert!(rank("/users/me") > rank("/users/{id:int}"));
    assert!(rank("/users/{id:int}") > rank("/users/{id}"));
    assert!(rank("/users/{id}") > rank("/users/{*rest}"));
    assert!(
        rank("/a/{x}") > rank("/{x}/b"),
        "the leftmost difference decides"
    );
    assert!(rank("/a/b/c") > rank("/a/{*rest}"));
    let mount = Pattern::parse("/api").unwrap().specificity(true);
    assert!(rank("/api/health") > mount);
    assert!(mount > rank("/{*rest}"));
    assert!(mount > rank("/{x}/{y}").min(rank("/{*rest}")));
}

#[test]
fn a_prefix_match_gives_the_raw_rest() {
    let rest = |pattern: &str, path: &str| {
        let pattern = Pattern::parse(pattern).unwrap();
        pattern
            .matches_prefix(&SplitPath::new(path).unwrap())
            .map(|found| (found.params, found.rest.unwrap()))
    };
    assert_eq!(rest("/api", "/api"), Some((vec![], "/".into())));
    assert_eq!(rest("/api", "/api/"), Some((vec![], "/".into())));
    assert_eq!(
        rest("/api", "/api/users/7"),
        Some((vec![], "/users/7".into()))
    );
    assert_eq!(
        rest("/api", "/api/a%2Fb/"),
        Some((vec![], "/a%2Fb/".into()))
    );
    assert_eq!(rest("/api", "/apix"), None, "only at a segment boundary");
    assert_eq!(rest("/api", "/"), None);
    assert_eq!(
        rest("/users/{id:int}", "/users/7/posts"),
        Some((vec![("id".into(), "7".into())], "/posts".into()))
    );
    assert_eq!(rest("/users/{id:int}", "/users/x/posts"), None);
    assert_eq!(
        rest("/", "/anything/here"),
        Some((vec![], "/anything/here".into()))
    );
}

#[test]
fn the_other_slash_form_of_a_path() {
    let path = SplitPath::new("/users").unwrap();
    let toggled = path.toggled_slash().unwrap();
    assert_eq!(params("/users/", "/users/"), pairs(&[]));
    assert!(
        Pattern::parse("/users/")
            .unwrap()
            .matches(&toggled)
            .is_some()
    );
    assert_eq!(SplitPath::new("/").unwrap().toggled_slash(), None);
}
