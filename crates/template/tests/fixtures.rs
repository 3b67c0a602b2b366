//! Every fixture and stage: the compiled templates equal what Serverless v3 produced.

mod common;

use std::collections::BTreeMap;

use common::*;
use deployer_template::FunctionArtifact;

/// With v3's own run inputs (directory, instance id, zip hashes) the templates are identical
/// to v3's, byte for byte once pretty-printed, including every version logical ID.
#[test]
fn templates_equal_v3_with_v3_run_inputs() {
    for fixture in FIXTURES {
        for stage in STAGES {
            let service = service(fixture, stage);
            let expected_update =
                read_json(fixture, stage, "cloudformation-template-update-stack.json");
            let expected_create =
                read_json(fixture, stage, "cloudformation-template-create-stack.json");
            let run = v3_run_inputs(&service, &expected_update);
            let templates = compile_with(&service, stage, &region(&service), &run);
            let got = serde_json::to_string_pretty(&templates.update).unwrap();
            let want = serde_json::to_string_pretty(&expected_update).unwrap();
            assert!(
                got == want,
                "{fixture}/{stage}: update template differs\n--- got ---\n{got}\n--- want ---\n{want}"
            );
            assert_eq!(
                serde_json::to_string_pretty(&templates.create).unwrap(),
                serde_json::to_string_pretty(&expected_create).unwrap(),
                "{fixture}/{stage}: create template differs"
            );
        }
    }
}

/// With artifacts hashed from a fixed string (as a new zip would be), the same resources,
/// types, outputs and properties once the run-dependent parts are normalised.
#[test]
fn templates_equal_v3_after_normalisation_with_other_artifacts() {
    for fixture in FIXTURES {
        for stage in STAGES {
            let service = service(fixture, stage);
            let expected = read_json(fixture, stage, "cloudformation-template-update-stack.json");
            let mut run = v3_run_inputs(&service, &expected);
            run.directory = format!(
                "serverless/{}/{stage}/1700000000000-2023-11-14T22:13:20.000Z",
                service.service
            );
            run.instance_id = "1700000000000".into();
            run.artifacts = run
                .artifacts
                .into_iter()
                .map(|(k, a)| {
                    (
                        k,
                        FunctionArtifact {
                            s3_key_name: a.s3_key_name,
                            sha256_base64: "Zml4ZWQgc3RyaW5n+/fixed==".into(),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>();
            let templates = compile_with(&service, stage, &region(&service), &run);
            let got = normalise(&templates.update);
            let want = normalise(&expected);
            let ids = |v: &serde_json::Value, section: &str| -> Vec<(String, String)> {
                v[section]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, r)| (k.clone(), r["Type"].as_str().unwrap_or_default().to_owned()))
                    .collect()
            };
            assert_eq!(
                ids(&got, "Resources"),
                ids(&want, "Resources"),
                "{fixture}/{stage}: resources"
            );
            assert_eq!(
                ids(&got, "Outputs"),
                ids(&want, "Outputs"),
                "{fixture}/{stage}: outputs"
            );
            assert_eq!(got, want, "{fixture}/{stage}: properties");
            // The version IDs are new (the code changed) but keep v3's shape.
            for key in service.functions.keys() {
                let prefix = format!(
                    "{}LambdaVersion",
                    deployer_template::naming::normalized_function_name(key)
                );
                let id = templates.update["Resources"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .find(|id| id.starts_with(&prefix))
                    .unwrap();
                assert!(
                    id[prefix.len()..]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric())
                );
                assert!(!expected["Resources"].as_object().unwrap().contains_key(id));
            }
        }
    }
}
