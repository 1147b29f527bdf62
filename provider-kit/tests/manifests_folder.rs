//! Every file in the workspace's `manifests/` folder is a valid example: metadata parse as
//! `ProviderMetadata`, manifests as `Manifest` without a warning, and each comes with its partner.

use provider_kit::protocol::{Manifest, ProviderEnv, ProviderMetadata};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MANIFEST_SUFFIX: &str = ".manifest.yaml";
const METADATA_SUFFIX: &str = ".yaml";

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

/// The folder's providers by id: metadata and manifest, as each was found. Panics on any file that is
/// neither, so nothing in the folder goes unchecked.
struct Examples {
    metadata: BTreeMap<String, ProviderMetadata>,
    manifests: BTreeMap<String, Manifest>,
}

fn load_examples() -> Examples {
    let mut examples = Examples {
        metadata: BTreeMap::new(),
        manifests: BTreeMap::new(),
    };
    for entry in std::fs::read_dir(folder()).expect("the manifests/ folder is readable") {
        let entry = entry.expect("a readable folder entry");
        let name = entry.file_name().into_string().expect("UTF-8 file names");
        assert!(
            entry.file_type().is_ok_and(|kind| kind.is_file()),
            "manifests/{name} is not a file"
        );
        if name == "README.md" {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("a readable UTF-8 file");
        if let Some(id) = name.strip_suffix(MANIFEST_SUFFIX) {
            let parsed = Manifest::from_yaml(&text)
                .unwrap_or_else(|e| panic!("manifests/{name} is not a valid manifest: {e}"));
            assert_eq!(parsed.warnings, Vec::<String>::new(), "manifests/{name}");
            examples.manifests.insert(id.to_owned(), parsed.manifest);
        } else if let Some(id) = name.strip_suffix(METADATA_SUFFIX) {
            let metadata: ProviderMetadata = serde_yaml::from_str(&text)
                .unwrap_or_else(|e| panic!("manifests/{name} is not valid metadata: {e}"));
            assert_eq!(
                metadata.id.as_str(),
                id,
                "manifests/{name}: the file is named for its id"
            );
            examples.metadata.insert(id.to_owned(), metadata);
        } else {
            panic!(
                "manifests/{name}: not README.md, <id>.yaml or <id>.manifest.yaml; \
                 teach this test how to check it"
            );
        }
    }
    examples
}

#[test]
fn every_file_in_the_manifests_folder_is_a_valid_example() {
    let examples = load_examples();
    let with_metadata: Vec<&String> = examples.metadata.keys().collect();
    let with_manifest: Vec<&String> = examples.manifests.keys().collect();
    assert_eq!(
        with_metadata, with_manifest,
        "each metadata needs its manifest, and each manifest its metadata"
    );
    for id in ["dev", "hpc-site", "storage-site"] {
        assert!(
            examples.metadata.contains_key(id),
            "manifests/{id}.yaml is missing"
        );
    }
}

#[test]
fn the_dev_provider_is_a_local_test_provider_with_containers_and_storage() {
    let examples = load_examples();
    let metadata = &examples.metadata["dev"];
    assert_eq!(metadata.env, ProviderEnv::Test);
    assert_eq!(metadata.namespace_url(), "http://127.0.0.1:9000/ucloud/dev");

    let mut expected = Manifest::default();
    let docker = &mut expected.features.compute.docker;
    (docker.enabled, docker.batch, docker.logs) = (true, true, true);
    let storage = &mut expected.features.storage;
    (storage.enabled, storage.projects) = (true, true);
    assert_eq!(examples.manifests["dev"], expected);
}

#[test]
fn the_production_examples_are_what_their_names_say() {
    let examples = load_examples();
    for id in ["hpc-site", "storage-site"] {
        let metadata = &examples.metadata[id];
        assert_eq!(metadata.env, ProviderEnv::Production, "{id}");
        assert!(metadata.namespace_url().starts_with("https://"), "{id}");
    }

    let storage = &examples.manifests["storage-site"];
    assert!(storage.features.storage.enabled);
    assert!(
        !storage.features.compute.docker.enabled
            && !storage.features.compute.virtual_machine.enabled
    );

    let hpc = &examples.manifests["hpc-site"];
    assert!(hpc.users.require_explicit_mapping);
    assert!(hpc.features.compute.docker.enabled && hpc.features.compute.virtual_machine.enabled);
}
