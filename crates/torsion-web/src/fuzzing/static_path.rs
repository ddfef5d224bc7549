//! Static-file request paths: whatever the request, the file named is
//! under the served root, and a directory's canonical URL reads back as
//! the same directory.

use std::path::{Component, Path};

use crate::static_files::request_path::RequestPath;

/// Checks the input as a raw request path: if accepted, it names a path
/// under the root made of plain names only (no `..`, no root, no
/// prefix), and its canonical directory URL is accepted as the same
/// segments.
pub fn static_path(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let Ok(request) = RequestPath::parse(&raw) else {
        return;
    };
    let root = Path::new("/srv/www");
    let under = request.under(root);
    let below = under
        .strip_prefix(root)
        .unwrap_or_else(|_| panic!("{raw:?} names {under:?}, outside the root"));
    for component in below.components() {
        assert!(
            matches!(component, Component::Normal(_)),
            "{raw:?} names {under:?}, with {component:?} in it"
        );
    }
    let _ = request.display();
    let url = request.directory_url();
    let again = RequestPath::parse(&url)
        .unwrap_or_else(|rejected| panic!("{url:?} (from {raw:?}) refused: {rejected:?}"));
    assert_eq!(again.under(root), under, "{url:?} from {raw:?}");
    assert!(again.has_trailing_slash());
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// Pieces of hostile paths, more often than chance gives them.
    fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&[u8]> = vec![
            b"/", b"..", b".", b"%2e", b"%2E%2e", b"%2f", b"%5c", b"\\", b"%00", b"%c0%ae", b"C:",
            b"//", b"a", b"%", b"%zz", b"~",
        ];
        vec(
            prop_oneof![
                1 => any::<u8>().prop_map(|byte| vec![byte]),
                3 => proptest::sample::select(pieces).prop_map(<[u8]>::to_vec),
            ],
            0..16,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(property_config(2048))]

        #[test]
        fn no_request_path_names_a_file_outside_the_root(data in path_bytes()) {
            static_path(&data);
        }
    }
}
