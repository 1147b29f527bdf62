//! The path table of SPEC §3 step 2: which manifest feature a brokered path needs.

use provider_kit::protocol::Manifest;

/// Every name the table below matches on. The raw-path gate refuses any of them in another letter
/// case (`Batch`, `USERMAP`): a provider whose router folds case would otherwise see a feature the
/// gate did not.
pub const SEGMENT_NAMES: [&str; 15] = [
    "manifest",
    "usermap",
    "compute",
    "docker",
    "virtualMachine",
    "web",
    "vnc",
    "logs",
    "terminal",
    "batch",
    "storage",
    "shares",
    "projects",
    "blockDevices",
    "ipAddresses",
];

/// What a brokered path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET manifest`: answered from the cache, never forwarded.
    Manifest,
    /// Forwarded if the feature is on; the name is for the error message.
    Feature { name: &'static str, enabled: bool },
    /// `usermap…` is between the browser and the provider only; anything else is unknown.
    NotFound,
}

/// Classifies `path` (after `/ucloud/{id}/`, no query, each segment decoded once by the raw-path
/// gate) against `manifest`.
pub fn route(path: &str, manifest: &Manifest) -> Route {
    // The table reads at most three segments; every segment is checked. No allocation: this runs
    // on every brokered request.
    let mut first = [""; 3];
    let mut count = 0;
    for segment in path.split('/') {
        if segment.is_empty() || is_dot_segment(segment) {
            return Route::NotFound;
        }
        if let Some(slot) = first.get_mut(count) {
            *slot = segment;
        }
        count += 1;
    }
    let segments = &first[..count.min(first.len())];
    let f = &manifest.features;
    let feature = |name, enabled| Route::Feature { name, enabled };
    match segments {
        ["manifest"] => Route::Manifest,
        ["compute", "docker", rest @ ..] => {
            let d = &f.compute.docker;
            match rest.first().copied() {
                Some("web") => feature("compute.docker.web", d.enabled && d.web),
                Some("vnc") => feature("compute.docker.vnc", d.enabled && d.vnc),
                Some("logs") => feature("compute.docker.logs", d.enabled && d.logs),
                Some("terminal") => feature("compute.docker.terminal", d.enabled && d.terminal),
                Some("batch") => feature("compute.docker.batch", d.enabled && d.batch),
                _ => feature("compute.docker", d.enabled),
            }
        }
        ["compute", "virtualMachine", rest @ ..] => {
            let v = &f.compute.virtual_machine;
            match rest.first().copied() {
                Some("logs") => feature("compute.virtualMachine.logs", v.enabled && v.logs),
                Some("vnc") => feature("compute.virtualMachine.vnc", v.enabled && v.vnc),
                Some("terminal") => {
                    feature("compute.virtualMachine.terminal", v.enabled && v.terminal)
                }
                _ => feature("compute.virtualMachine", v.enabled),
            }
        }
        ["storage", rest @ ..] => {
            let s = &f.storage;
            match rest.first().copied() {
                Some("shares") => feature("storage.shares", s.enabled && s.shares),
                Some("projects") => feature("storage.projects", s.enabled && s.projects),
                _ => feature("storage", s.enabled),
            }
        }
        ["blockDevices", ..] => feature("blockDevices", f.block_devices.enabled),
        ["ipAddresses", ..] => feature("ipAddresses", f.ip_addresses.enabled),
        _ => Route::NotFound,
    }
}

/// `.` and `..`, also percent-encoded, which a provider's router might resolve upwards.
fn is_dot_segment(s: &str) -> bool {
    let mut rest = s.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        if let [b'.', tail @ ..] = rest {
            rest = tail;
        } else if let [b'%', b'2', e, tail @ ..] = rest
            && e.eq_ignore_ascii_case(&b'e')
        {
            rest = tail;
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(yaml: &str) -> Manifest {
        Manifest::from_yaml(yaml).unwrap().manifest
    }

    #[test]
    fn the_path_table_follows_the_contract() {
        let m = manifest(
            "features:\n  compute:\n    docker: { enabled: true, logs: true }\n  storage: { enabled: true, projects: true }\n",
        );
        let on = |name| Route::Feature {
            name,
            enabled: true,
        };
        let off = |name| Route::Feature {
            name,
            enabled: false,
        };
        let cases = [
            ("manifest", Route::Manifest),
            ("compute/docker", on("compute.docker")),
            ("compute/docker/jobs/42", on("compute.docker")),
            ("compute/docker/logs/42", on("compute.docker.logs")),
            ("compute/docker/web/42", off("compute.docker.web")),
            ("compute/docker/batch", off("compute.docker.batch")),
            ("compute/virtualMachine/x", off("compute.virtualMachine")),
            ("storage/files", on("storage")),
            ("storage/projects/p1", on("storage.projects")),
            ("storage/shares", off("storage.shares")),
            ("blockDevices/1", off("blockDevices")),
            ("ipAddresses", off("ipAddresses")),
            ("usermap", Route::NotFound),
            ("usermap/unlink", Route::NotFound),
            ("admin", Route::NotFound),
            ("Storage/files", Route::NotFound),
            ("storage/../usermap", Route::NotFound),
            ("storage/%2E%2e/usermap", Route::NotFound),
            ("storage//x", Route::NotFound),
            ("storage/%2e", Route::NotFound),
            ("storage/.%2E/x", Route::NotFound),
            ("storage/.../x", on("storage")),
            ("storage/%2e%2", on("storage")),
            ("storage/a/b/c/d/e", on("storage")),
            ("manifest/x", Route::NotFound),
            ("", Route::NotFound),
        ];
        for (path, expected) in cases {
            assert_eq!(route(path, &m), expected, "{path}");
        }
    }

    #[test]
    fn a_sub_feature_needs_its_parent_too() {
        let m = manifest("features:\n  compute:\n    docker: { enabled: false, logs: true }\n");
        assert_eq!(
            route("compute/docker/logs/1", &m),
            Route::Feature {
                name: "compute.docker.logs",
                enabled: false
            }
        );
    }
}
