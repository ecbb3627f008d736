//! The whole generated client, pinned: any change to the spec or to `sophic-codegen` shows
//! up here as a diff to review (`cargo insta review`) before it lands.

#[test]
fn generated_client_source() {
    insta::assert_snapshot!(sophic_client::GENERATED_SOURCE);
}

#[test]
fn generated_source_carries_the_do_not_edit_header() {
    assert!(sophic_client::GENERATED_SOURCE.starts_with(sophic_codegen::HEADER));
}
