//! Examples for manifest parsing: the SPEC §1 document, defaults, warnings, errors, bounds, content types.

use super::*;
use crate::protocol::{DockerFeatures, FeatureToggle, StorageFeatures, VirtualMachineFeatures};

const SPEC_EXAMPLE: &str = "
users:
  requireExplicitMapping: false
features:
  compute:
    docker:         { enabled: true, web: false, vnc: false, batch: true, logs: true, terminal: false }
    virtualMachine: { enabled: true, logs: false, vnc: false, terminal: false }
  storage:          { enabled: true, shares: false, projects: true }
  blockDevices:     { enabled: true }
  ipAddresses:      { enabled: true }
";

fn errors_of(result: Result<ParsedManifest, ManifestErrors>) -> Vec<String> {
    let errors = result.expect_err("the manifest should be refused");
    errors.errors().iter().map(ToString::to_string).collect()
}

fn one_error(result: Result<ParsedManifest, ManifestErrors>) -> String {
    let errors = errors_of(result);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap_or_default()
}

#[test]
fn the_spec_example_parses_to_what_it_says() {
    let parsed = Manifest::from_yaml(SPEC_EXAMPLE).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let m = parsed.manifest;
    assert!(!m.users.require_explicit_mapping);
    let docker = DockerFeatures {
        enabled: true,
        batch: true,
        logs: true,
        ..DockerFeatures::default()
    };
    assert_eq!(m.features.compute.docker, docker);
    let vm = VirtualMachineFeatures {
        enabled: true,
        ..VirtualMachineFeatures::default()
    };
    assert_eq!(m.features.compute.virtual_machine, vm);
    let storage = StorageFeatures {
        enabled: true,
        shares: false,
        projects: true,
    };
    assert_eq!(m.features.storage, storage);
    assert_eq!(m.features.block_devices, FeatureToggle { enabled: true });
    assert_eq!(m.features.ip_addresses, FeatureToggle { enabled: true });
}

#[test]
fn json_and_yaml_of_the_same_document_give_the_same_result() {
    let yaml = Manifest::from_yaml(SPEC_EXAMPLE).unwrap();
    let tree: serde_json::Value = serde_yaml::from_str(SPEC_EXAMPLE).unwrap();
    assert_eq!(Manifest::from_json(&tree.to_string()), Ok(yaml.clone()));
    assert_eq!(
        Manifest::from_yaml(&tree.to_string()),
        Ok(yaml),
        "JSON is YAML too"
    );

    let bad = r#"{"features": {"compute": {"docker": {"web": "yes", "gpu": true}}}}"#;
    assert_eq!(Manifest::from_json(bad), Manifest::from_yaml(bad));
}

#[test]
fn an_empty_document_is_the_all_false_manifest() {
    for empty in ["", "  \n", "# nothing here\n", "---\n", "~", "null", "{}"] {
        let parsed = Manifest::from_yaml(empty).unwrap();
        assert_eq!(parsed.manifest, Manifest::default(), "{empty:?}");
        assert!(parsed.warnings.is_empty());
    }
    for empty in ["", " \n", "null", "{}"] {
        assert_eq!(
            Manifest::from_json(empty).unwrap().manifest,
            Manifest::default(),
            "{empty:?}"
        );
    }
    let empty_sections =
        Manifest::from_yaml("users:\nfeatures:\n  compute:\n  storage: ~\n").unwrap();
    assert_eq!(
        empty_sections.manifest,
        Manifest::default(),
        "an empty section is all false"
    );
    let partial = Manifest::from_yaml("features: { storage: { enabled: true } }").unwrap();
    assert!(partial.manifest.features.storage.enabled);
    assert!(!partial.manifest.features.storage.projects);
    assert!(!partial.manifest.features.compute.docker.enabled);
}

#[test]
fn unknown_keys_are_warnings_naming_the_full_path() {
    let parsed = Manifest::from_yaml(
        "features:\n  compute:\n    docker: { enabled: true, gpu: true }\n  quantum: { qubits: 5 }\nowner: me\n",
    )
    .unwrap();
    assert!(parsed.manifest.features.compute.docker.enabled);
    assert_eq!(
        parsed.warnings,
        [
            "features.compute.docker.gpu: unknown key, ignored",
            "features.quantum: unknown key, ignored",
            "owner: unknown key, ignored",
        ]
    );
}

#[test]
fn a_wrong_type_is_an_error_naming_the_path_and_what_was_found() {
    let doc = "features:\n  compute:\n    docker: { enabled: true, web: yes }\n";
    assert_eq!(
        one_error(Manifest::from_yaml(doc)),
        r#"features.compute.docker.web: expected a boolean, found "yes""#
    );
    let cases = [
        (
            "users: { requireExplicitMapping: 1 }",
            "users.requireExplicitMapping: expected a boolean, found 1",
        ),
        (
            "features: { storage: { shares: 'true' } }",
            r#"features.storage.shares: expected a boolean, found "true""#,
        ),
        (
            "features: { storage: { enabled: ~ } }",
            "features.storage.enabled: expected a boolean, found null",
        ),
        (
            "features: { ipAddresses: true }",
            "features.ipAddresses: expected a mapping, found true",
        ),
        (
            "features: { storage: { enabled: {} } }",
            "features.storage.enabled: expected a boolean, found a mapping",
        ),
        (
            "features: { storage: { enabled: [] } }",
            "features.storage.enabled: expected a boolean, found a sequence",
        ),
        (
            "features: { storage: { enabled: 1.5 } }",
            "features.storage.enabled: expected a boolean, found 1.5",
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(one_error(Manifest::from_yaml(doc)), expected, "{doc}");
    }
}

#[test]
fn yaml_1_1_booleans_are_strings_not_true() {
    for word in ["yes", "on", "y", "Yes", "ON", "True1"] {
        let doc = format!("features: {{ compute: {{ docker: {{ web: {word} }} }} }}");
        let error = one_error(Manifest::from_yaml(&doc));
        assert_eq!(
            error,
            format!("features.compute.docker.web: expected a boolean, found \"{word}\"")
        );
    }
    let parsed = Manifest::from_yaml("features: { compute: { docker: { web: true, vnc: True } } }");
    assert!(
        parsed.unwrap().manifest.features.compute.docker.vnc,
        "YAML 1.2 core schema: True is a boolean"
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let doc = "users: { requireExplicitMapping: no }\nfeatures:\n  compute: { docker: { web: 1, vnc: 2 } }\n";
    assert_eq!(
        errors_of(Manifest::from_yaml(doc)),
        [
            r#"users.requireExplicitMapping: expected a boolean, found "no""#,
            "features.compute.docker.web: expected a boolean, found 1",
            "features.compute.docker.vnc: expected a boolean, found 2",
        ]
    );
    let all_wrong = serde_yaml::to_string(&Manifest::default())
        .unwrap()
        .replace("false", "1");
    let errors = errors_of(Manifest::from_yaml(&all_wrong));
    assert_eq!(
        errors.len(),
        16,
        "17 boolean fields, at most 16 errors: {errors:?}"
    );
    assert_eq!(
        errors[0],
        "users.requireExplicitMapping: expected a boolean, found 1"
    );
    assert_eq!(
        errors[15],
        "features.blockDevices.enabled: expected a boolean, found 1"
    );
    let odd_keys: String = (0..40).map(|i| format!("{i}: x\n")).collect();
    assert_eq!(
        errors_of(Manifest::from_yaml(&odd_keys)).len(),
        MAX_ERRORS,
        "at most 16 are listed"
    );
}

#[test]
fn a_sequence_never_fills_a_struct_by_position() {
    assert_eq!(
        one_error(Manifest::from_yaml(
            "features: { compute: { docker: [true, true] } }"
        )),
        "features.compute.docker: expected a mapping, found a sequence"
    );
    let too_long = "features: { compute: { docker: [true, true, true, true, true, true, true] } }";
    assert_eq!(
        one_error(Manifest::from_yaml(too_long)),
        "features.compute.docker: expected a mapping, found a sequence"
    );
    assert_eq!(
        one_error(Manifest::from_yaml("features: { storage: [yes] }")),
        "features.storage: expected a mapping, found a sequence"
    );
    let ignored = Manifest::from_yaml("features: { compute: { images: [a, b] } }").unwrap();
    assert_eq!(
        ignored.warnings,
        ["features.compute.images: unknown key, ignored"]
    );
}

#[test]
fn keys_must_be_strings() {
    assert_eq!(
        one_error(Manifest::from_yaml(
            "features: { compute: { docker: { 0: true } } }"
        )),
        "features.compute.docker: a key must be a string, found 0"
    );
    assert_eq!(
        one_error(Manifest::from_yaml("true: 1")),
        "a key must be a string, found true"
    );
}

#[test]
fn a_document_that_is_not_a_mapping_is_refused() {
    for (doc, found) in [
        ("true", "true"),
        ("[1]", "a sequence"),
        ("hello", "\"hello\""),
        ("3", "3"),
    ] {
        let expected = format!("the manifest must be a mapping at the top level, found {found}");
        assert_eq!(one_error(Manifest::from_yaml(doc)), expected);
        assert_eq!(
            one_error(Manifest::from_json(
                &serde_json::to_string(&serde_yaml::from_str::<Value>(doc).unwrap()).unwrap()
            )),
            expected
        );
    }
}

#[test]
fn malformed_documents_are_refused_with_a_location() {
    for doc in [
        "features: { compute: ",
        "a: 1\n---\nb: 2\n",
        "a: 1\na: 2\n",
        "a: !custom 1\n",
        "\t- x",
    ] {
        assert!(Manifest::from_yaml(doc).is_err(), "{doc}");
    }
    assert!(one_error(Manifest::from_yaml("a: 1\na: 2\n")).contains("duplicate key \"a\""));
    assert!(one_error(Manifest::from_json(r#"{"a": 1, "a": 2}"#)).contains("duplicate key \"a\""));
    assert!(one_error(Manifest::from_json("{} x")).contains("trailing characters"));
    assert!(one_error(Manifest::from_yaml("a: !custom 1")).contains("tags"));
}

#[test]
fn size_is_bounded() {
    let padding = " ".repeat(MAX_MANIFEST_BYTES);
    let big = format!("features: {{}}\n{padding}");
    let expected = format!(
        "the manifest is {} bytes; at most 65536 bytes are accepted",
        big.len()
    );
    assert_eq!(one_error(Manifest::from_yaml(&big)), expected);
    assert_eq!(one_error(Manifest::from_json(&big)), expected);
    assert_eq!(one_error(Manifest::parse(big.as_bytes(), None)), expected);
    assert!(
        Manifest::from_yaml(&padding).is_ok(),
        "exactly the limit is accepted"
    );
}

#[test]
fn warnings_and_echoed_input_are_clipped() {
    let keys: String = (0..80).map(|i| format!("k{i}: 1\n")).collect();
    let parsed = Manifest::from_yaml(&keys).unwrap();
    assert_eq!(parsed.warnings.len(), MAX_WARNINGS + 1);
    assert_eq!(
        parsed.warnings[MAX_WARNINGS],
        "30 more unknown keys, ignored and not listed"
    );

    let long = "x".repeat(1000);
    let error = one_error(Manifest::from_yaml(&format!(
        "features: {{ storage: {{ enabled: {long} }} }}"
    )));
    assert!(error.len() < 120, "{error}");
    assert!(error.ends_with("…\""), "{error}");
    let parsed = Manifest::from_yaml(&format!("{long}: 1\n\"a\\u0007b\": 2")).unwrap();
    assert!(parsed.warnings[0].chars().count() < 200 + 30);
    assert_eq!(parsed.warnings[1], "a\\u{7}b: unknown key, ignored");
}

#[test]
fn the_content_type_chooses_the_format() {
    use ManifestFormat::{Json, Yaml};
    for (content_type, format) in [
        (None, Yaml),
        (Some("application/yaml"), Yaml),
        (Some("text/yaml; charset=utf-8"), Yaml),
        (Some("application/x-yaml"), Yaml),
        (Some("Application/JSON; charset=UTF-8"), Json),
        (Some("application/manifest+json"), Json),
    ] {
        assert_eq!(
            ManifestFormat::from_content_type(content_type),
            Ok(format),
            "{content_type:?}"
        );
    }
    let error = one_error(Manifest::parse(b"<html></html>", Some("text/html")));
    assert_eq!(
        error,
        r#"content type "text/html" is not a manifest; serve application/yaml or application/json"#
    );
}

#[test]
fn parse_reads_bytes_as_announced() {
    let json = br#"{"features": {"storage": {"enabled": true}}}"#;
    let parsed = Manifest::parse(json, Some("application/json")).unwrap();
    assert!(parsed.manifest.features.storage.enabled);
    assert_eq!(Manifest::parse(json, None), Ok(parsed.clone()));
    assert_eq!(
        Manifest::parse(
            b"features: {storage: {enabled: true}}",
            Some("application/yaml")
        ),
        Ok(parsed)
    );
    let error = one_error(Manifest::parse(b"features: \xff", None));
    assert_eq!(
        error,
        "the manifest is not UTF-8 text (invalid byte at offset 10)"
    );
    let yaml_as_json = one_error(Manifest::parse(b"features: {}", Some("application/json")));
    assert!(
        yaml_as_json.contains("at line 1 column 2"),
        "{yaml_as_json}"
    );
}

#[test]
fn errors_display_as_one_line() {
    let errors = Manifest::from_yaml("users: 1\nfeatures: 2").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "users: expected a mapping, found 1; features: expected a mapping, found 2"
    );
    assert_eq!(errors.errors()[0].path, "users");
}

#[test]
fn the_access_policy_keys_default_to_nothing_required() {
    let m = Manifest::from_yaml("features: {}").unwrap().manifest;
    assert!(!m.users.require_two_factor);
    assert!(m.users.require_assurance.is_empty());
    assert_eq!(m.users.terms, None);
}

#[test]
fn the_access_policy_keys_parse_and_round_trip() {
    let yaml = "users:\n  requireTwoFactor: true\n  requireAssurance: [\"https://refeds.org/assurance/IAP/medium\"]\n  terms: { version: \"2026-01\", title: \"HPC acceptable use\", url: \"https://hpc.example.org/aup\" }\n";
    let parsed = Manifest::from_yaml(yaml).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let users = &parsed.manifest.users;
    assert!(users.require_two_factor);
    assert_eq!(
        users.require_assurance,
        ["https://refeds.org/assurance/IAP/medium"]
    );
    let terms = users.terms.as_ref().unwrap();
    assert_eq!(
        (
            terms.version.as_str(),
            terms.title.as_str(),
            terms.url.as_str()
        ),
        (
            "2026-01",
            "HPC acceptable use",
            "https://hpc.example.org/aup"
        )
    );
    let json = serde_json::to_string(&parsed.manifest).unwrap();
    assert!(json.contains("\"requireTwoFactor\":true"), "{json}");
    assert_eq!(Manifest::from_json(&json).unwrap(), parsed);
    let again = serde_yaml::to_string(&parsed.manifest).unwrap();
    assert_eq!(Manifest::from_yaml(&again).unwrap(), parsed);
}

#[test]
fn terms_must_link_to_an_http_url_and_every_policy_value_is_bounded() {
    let terms = |url: &str| {
        format!("users:\n  terms: {{ version: \"1\", title: \"T\", url: \"{url}\" }}\n")
    };
    for bad in [
        "javascript:alert(1)",
        "ftp://x.example/aup",
        "https://",
        "https://user@evil.example/",
        "/relative",
    ] {
        let e = one_error(Manifest::from_yaml(&terms(bad)));
        assert!(e.starts_with("users.terms.url: "), "{bad}: {e}");
    }
    assert!(Manifest::from_yaml(&terms("http://hpc.example.org/aup")).is_ok());

    let long = "v".repeat(65);
    let e = one_error(Manifest::from_yaml(&format!(
        "users:\n  terms: {{ version: \"{long}\", title: \"T\", url: \"https://a.example\" }}\n"
    )));
    assert!(
        e.starts_with("users.terms.version: has 65 characters"),
        "{e}"
    );
    let e = one_error(Manifest::from_yaml(
        "users:\n  terms: { version: \"1\", title: \" \", url: \"https://a.example\" }\n",
    ));
    assert_eq!(e, "users.terms.title: must not be empty");
    let e = one_error(Manifest::from_yaml(
        "users:\n  terms: { version: \"1\", url: \"https://a.example\" }\n",
    ));
    assert!(e.contains("title"), "{e}");

    let e = one_error(Manifest::from_yaml(
        "users:\n  requireAssurance: [\"not a uri\"]\n",
    ));
    assert_eq!(e, "users.requireAssurance[0]: is not a URI");
    let many: Vec<String> = (0..17).map(|i| format!("\"urn:x:{i}\"")).collect();
    let e = one_error(Manifest::from_yaml(&format!(
        "users:\n  requireAssurance: [{}]\n",
        many.join(",")
    )));
    assert!(e.starts_with("users.requireAssurance: 17 URIs"), "{e}");
    let e = one_error(Manifest::from_yaml("users:\n  requireTwoFactor: \"yes\"\n"));
    assert!(e.starts_with("users.requireTwoFactor: "), "{e}");
}
