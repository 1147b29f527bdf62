//! Properties of manifest parsing over generated input: it never panics, JSON and YAML of one document
//! agree, and every valid manifest survives serialize → parse unchanged.

use super::*;
use proptest::prelude::*;
use serde_yaml::Mapping;

/// The keys of the schema, so generated documents reach deep into it, and some that are not.
const VOCABULARY: &[&str] = &[
    "users",
    "requireExplicitMapping",
    "features",
    "compute",
    "docker",
    "virtualMachine",
    "storage",
    "blockDevices",
    "ipAddresses",
    "enabled",
    "web",
    "vnc",
    "batch",
    "logs",
    "terminal",
    "shares",
    "projects",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(VOCABULARY).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9 .:#'\"-]{0,10}",
    ]
}

/// Scalars weighted towards booleans, so many generated documents are valid manifests.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => any::<i64>().prop_map(|n| Value::Number(n.into())),
        1 => "\\PC{0,12}".prop_map(Value::String),
        1 => prop::sample::select(&["yes", "no", "on", "off", "True", "~", "1"][..])
            .prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// Documents of random keys and values, mostly mappings, up to five levels deep.
fn tree(odd_keys: bool) -> impl Strategy<Value = Value> {
    let key = move || -> BoxedStrategy<Value> {
        if odd_keys {
            prop_oneof![4 => key().prop_map(Value::String), 1 => scalar()].boxed()
        } else {
            key().prop_map(Value::String).boxed()
        }
    };
    scalar().prop_recursive(5, 96, 6, move |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
            4 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Mapping(pairs.into_iter().collect::<Mapping>())),
        ]
    })
}

/// A random valid manifest with a few random edits: a value replaced, a key added or removed. These
/// stay close to the schema, so they reach the interesting mixes of known, unknown and wrong values.
fn edited_manifest() -> impl Strategy<Value = Value> {
    let edit = (any::<prop::sample::Index>(), 0..3u8, key(), tree(false));
    (manifest(), prop::collection::vec(edit, 0..4)).prop_map(|(m, edits)| {
        let mut doc = serde_yaml::to_value(m).unwrap();
        for (at, kind, key, value) in edits {
            let mut paths = Vec::new();
            mapping_paths(&doc, &mut Vec::new(), &mut paths);
            let path = at.get(&paths);
            let Some(Value::Mapping(mapping)) =
                path.iter().try_fold(&mut doc, |node, k| node.get_mut(k))
            else {
                continue;
            };
            let existing = mapping.keys().nth(at.index(mapping.len().max(1))).cloned();
            match (kind, existing) {
                (0, Some(existing)) => drop(mapping.insert(existing, value)),
                (1, Some(existing)) => drop(mapping.shift_remove(&existing)),
                _ => drop(mapping.insert(Value::String(key), value)),
            }
        }
        doc
    })
}

fn mapping_paths(node: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Mapping(mapping) = node {
        out.push(path.clone());
        for (key, value) in mapping {
            if let Value::String(key) = key {
                path.push(key.clone());
                mapping_paths(value, path, out);
                path.pop();
            }
        }
    }
}

/// Half random documents, half edited manifests.
fn document() -> impl Strategy<Value = Value> {
    prop_oneof![tree(false), edited_manifest()]
}

fn manifest() -> impl Strategy<Value = Manifest> {
    any::<[bool; 16]>().prop_map(|b| {
        let mut m = Manifest::default();
        m.users.require_explicit_mapping = b[0];
        let docker = &mut m.features.compute.docker;
        [
            docker.enabled,
            docker.web,
            docker.vnc,
            docker.batch,
            docker.logs,
            docker.terminal,
        ] = [b[1], b[2], b[3], b[4], b[5], b[6]];
        let vm = &mut m.features.compute.virtual_machine;
        [vm.enabled, vm.logs, vm.vnc, vm.terminal] = [b[7], b[8], b[9], b[10]];
        let storage = &mut m.features.storage;
        [storage.enabled, storage.shares, storage.projects] = [b[11], b[12], b[13]];
        m.features.block_devices.enabled = b[14];
        m.features.ip_addresses.enabled = b[15];
        m
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = Manifest::from_yaml(&text);
        let _ = Manifest::from_json(&text);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "[-:{}\\[\\],&*!|>?'\" \\n\\ta-z0-9#~.]{0,300}") {
        let _ = Manifest::from_yaml(&text);
        let _ = Manifest::from_json(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), json in any::<bool>()) {
        let content_type = if json { "application/json" } else { "application/yaml" };
        let _ = Manifest::parse(&bytes, Some(content_type));
    }

    #[test]
    fn documents_with_odd_keys_never_panic(doc in tree(true)) {
        let yaml = serde_yaml::to_string(&doc).unwrap();
        if let Ok(parsed) = Manifest::from_yaml(&yaml) {
            prop_assert!(parsed.warnings.len() <= MAX_WARNINGS + 1);
        }
    }

    #[test]
    fn json_and_yaml_of_one_document_agree(doc in document()) {
        let yaml = serde_yaml::to_string(&doc).unwrap();
        let json = serde_json::to_string(&doc).unwrap();
        let from_yaml = Manifest::from_yaml(&yaml);
        prop_assert_eq!(&from_yaml, &Manifest::from_json(&json), "yaml:\n{}json: {}", yaml, json);
        if let Ok(parsed) = from_yaml {
            let again = Manifest::from_yaml(&serde_yaml::to_string(&parsed.manifest).unwrap()).unwrap();
            prop_assert_eq!(again.manifest, parsed.manifest);
            prop_assert!(again.warnings.is_empty());
        }
    }

    #[test]
    fn valid_manifests_round_trip_through_yaml_and_json(m in manifest()) {
        let yaml = Manifest::from_yaml(&serde_yaml::to_string(&m).unwrap()).unwrap();
        prop_assert_eq!(&yaml.manifest, &m);
        prop_assert!(yaml.warnings.is_empty());
        let json = Manifest::from_json(&serde_json::to_string_pretty(&m).unwrap()).unwrap();
        prop_assert_eq!(json, yaml);
    }
}

/// The generators must reach both outcomes, or the properties above would hold vacuously.
#[test]
fn generated_documents_include_valid_and_invalid_manifests() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut valid, mut warned, mut invalid) = (0, 0, 0);
    for _ in 0..200 {
        let doc = document().new_tree(&mut runner).unwrap().current();
        match Manifest::from_yaml(&serde_yaml::to_string(&doc).unwrap()) {
            Ok(parsed) if !parsed.warnings.is_empty() => warned += 1,
            Ok(parsed) if parsed.manifest != Manifest::default() => valid += 1,
            Ok(_) => {}
            Err(_) => invalid += 1,
        }
    }
    let counts = format!("valid {valid}, valid with warnings {warned}, invalid {invalid}");
    assert!(valid >= 20 && warned >= 20 && invalid >= 20, "{counts}");
}
