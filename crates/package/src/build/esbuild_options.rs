//! esbuild options as serverless-esbuild (`custom.esbuild`) and Serverless v4 (`build.esbuild`)
//! read them, with each source's own defaults.

use serde_json::{Map, Value};

/// Where the options came from; the defaults differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionSource {
    /// `custom.esbuild` with serverless-esbuild declared: bundle on, only `aws-sdk` excluded.
    ServerlessEsbuild,
    /// v4's `build.esbuild`, or a TypeScript handler without any build plugin: `@aws-sdk/*`
    /// left external for nodejs18.x and later.
    V4,
    /// serverless-webpack / serverless-bundle / serverless-plugin-typescript: built with
    /// esbuild using v4's defaults.
    Webpack,
}

/// Output module format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CommonJS (the default).
    Cjs,
    /// ES modules.
    Esm,
}

/// The esbuild settings for one service, after defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct EsbuildOptions {
    /// `bundle` (default true).
    pub bundle: bool,
    /// `minify`.
    pub minify: bool,
    /// `sourcemap`: `None` = off; `Some("true")` = external `.map` file, or `inline`/`linked`/`both`/`external`.
    pub sourcemap: Option<String>,
    /// `target` (from the runtime unless set).
    pub target: String,
    /// `platform` (default `node`).
    pub platform: String,
    /// `format`.
    pub format: Format,
    /// Output extension (`.js`, `.cjs`, `.mjs`).
    pub out_extension: String,
    /// Packages left out of the bundle (`external` + `exclude`).
    pub external: Vec<String>,
    /// `exclude` (removed from the packages installed into `node_modules`).
    pub exclude: Vec<String>,
    /// `packager` (`npm`, `yarn`, `pnpm`); `None` = from the lock file.
    pub packager: Option<String>,
    /// `keepNames`.
    pub keep_names: bool,
    /// `define`: identifier → replacement.
    pub define: Vec<(String, String)>,
    /// `banner`: `js`/`css` → text.
    pub banner: Vec<(String, String)>,
    /// `footer`: `js`/`css` → text.
    pub footer: Vec<(String, String)>,
    /// `mainFields`.
    pub main_fields: Vec<String>,
    /// `tsconfig` path.
    pub tsconfig: Option<String>,
    /// `loader`: extension → loader.
    pub loader: Vec<(String, String)>,
    /// `resolveExtensions` (also the order of entry resolution).
    pub resolve_extensions: Vec<String>,
    /// `concurrency` (builds at once; default: the number of cores).
    pub concurrency: Option<usize>,
    /// Keys read but not understood, for a warning.
    pub unknown: Vec<String>,
}

/// Keys of serverless-esbuild that only steer the plugin and have no meaning here.
const PLUGIN_ONLY: [&str; 20] = [
    "zipConcurrency",
    "packagerOptions",
    "packagePath",
    "installExtraArgs",
    "nativeZip",
    "keepOutputDirectory",
    "outputWorkFolder",
    "outputBuildFolder",
    "watch",
    "skipBuild",
    "skipBuildExcludeFns",
    "skipRebuild",
    "stripEntryResolveExtensions",
    "disposeContext",
    "nodeExternals",
    "metafile",
    "config",
    "plugins",
    "treeShaking",
    "buildConcurrency",
];

/// esbuild's default `resolveExtensions` order for entries, as serverless-esbuild uses it.
const ENTRY_EXTENSIONS: [&str; 4] = [".ts", ".js", ".jsx", ".tsx"];

impl EsbuildOptions {
    /// Reads `raw` (the `custom.esbuild` or `build.esbuild` map, or null) with `source`'s
    /// defaults for a function on `runtime`; `module_type` is package.json's `type`.
    pub fn parse(
        raw: &Value,
        source: OptionSource,
        runtime: &str,
        module_type: Option<&str>,
    ) -> Result<EsbuildOptions, String> {
        let empty = Map::new();
        let map = match raw {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => return Err(format!("must be a map of esbuild options, not {other}")),
        };
        let mut o = EsbuildOptions::defaults(source, runtime, module_type);
        for (key, value) in map {
            o.apply(key, value)
                .map_err(|reason| format!("option {key:?}: {reason}"))?;
        }
        o.finish(map)?;
        Ok(o)
    }

    fn defaults(source: OptionSource, runtime: &str, module_type: Option<&str>) -> EsbuildOptions {
        let node = node_major(runtime);
        let exclude = match source {
            OptionSource::ServerlessEsbuild => vec!["aws-sdk".to_string()],
            // v4: the SDK v3 is in every nodejs18.x+ runtime; older ones ship SDK v2.
            _ if node.is_some_and(|n| n >= 18) => vec!["@aws-sdk/*".to_string()],
            _ => vec!["aws-sdk".to_string()],
        };
        EsbuildOptions {
            bundle: true,
            minify: false,
            sourcemap: None,
            target: format!("node{}", node.unwrap_or(18)),
            platform: "node".into(),
            format: if module_type == Some("module") {
                Format::Esm
            } else {
                Format::Cjs
            },
            out_extension: ".js".into(),
            external: Vec::new(),
            exclude,
            packager: None,
            keep_names: false,
            define: Vec::new(),
            banner: Vec::new(),
            footer: Vec::new(),
            main_fields: Vec::new(),
            tsconfig: None,
            loader: Vec::new(),
            resolve_extensions: Vec::new(),
            concurrency: None,
            unknown: Vec::new(),
        }
    }

    fn apply(&mut self, key: &str, value: &Value) -> Result<(), String> {
        match key {
            "bundle" => self.bundle = boolean(value)?,
            "minify" => self.minify = boolean(value)?,
            "keepNames" => self.keep_names = boolean(value)?,
            "sourcemap" => self.sourcemap = sourcemap(value)?,
            "target" => self.target = string_or_list(value)?.join(","),
            "platform" => self.platform = string(value)?,
            "format" => {
                self.format = match string(value)?.as_str() {
                    "cjs" => Format::Cjs,
                    "esm" => Format::Esm,
                    other => return Err(format!("{other:?} is not supported; use cjs or esm")),
                }
            }
            "outputFileExtension" => self.out_extension = string(value)?,
            "outExtension" => {
                if let Some(ext) = pairs(value)?.into_iter().find(|(k, _)| k == ".js") {
                    self.out_extension = ext.1;
                }
            }
            "external" => self.external = string_or_list(value)?,
            "exclude" => self.exclude = string_or_list(value)?,
            "packager" => self.packager = Some(packager(value)?),
            "define" => self.define = pairs(value)?,
            "banner" => self.banner = pairs(value)?,
            "footer" => self.footer = pairs(value)?,
            "mainFields" => self.main_fields = string_or_list(value)?,
            "tsconfig" => self.tsconfig = Some(string(value)?),
            "loader" => self.loader = pairs(value)?,
            "resolveExtensions" => self.resolve_extensions = string_or_list(value)?,
            "concurrency" => self.concurrency = concurrency(value)?,
            // `nodeModules` / `modules` are v4-style spellings of the installed externals.
            "nodeModules" => self.external.extend(string_or_list(value)?),
            k if PLUGIN_ONLY.contains(&k) => {}
            k => self.unknown.push(k.to_string()),
        }
        Ok(())
    }

    fn finish(&mut self, map: &Map<String, Value>) -> Result<(), String> {
        // serverless-esbuild's `platform: neutral` without `format` means ESM.
        if self.platform == "neutral" && !map.contains_key("format") {
            self.format = Format::Esm;
        }
        // The zip holds no package.json saying `"type": "module"`, so an ES module bundle
        // must be `.mjs` for Lambda's Node.js to load it as one.
        let extension_set =
            map.contains_key("outputFileExtension") || map.contains_key("outExtension");
        if self.format == Format::Esm && !extension_set {
            self.out_extension = ".mjs".into();
        }
        match (self.out_extension.as_str(), self.format) {
            (".js", _) | (".cjs", Format::Cjs) | (".mjs", Format::Esm) => {}
            (".cjs", Format::Esm) => return Err("outputFileExtension .cjs needs format cjs".into()),
            (".mjs", Format::Cjs) => return Err("outputFileExtension .mjs needs format esm".into()),
            (other, _) => {
                return Err(format!(
                    "outputFileExtension {other:?} is not one of .js, .cjs, .mjs"
                ));
            }
        }
        Ok(())
    }

    /// Extensions tried, in order, to find a handler's entry file.
    pub fn entry_extensions(&self) -> Vec<String> {
        if self.resolve_extensions.is_empty() {
            ENTRY_EXTENSIONS.iter().map(|e| e.to_string()).collect()
        } else {
            self.resolve_extensions.clone()
        }
    }

    /// Packages esbuild leaves out of the bundle: `external`, then `exclude` unless it is `*`.
    pub fn bundle_externals(&self) -> Vec<String> {
        let mut all = self.external.clone();
        if !self.exclude.iter().any(|e| e == "*") {
            all.extend(self.exclude.iter().cloned());
        }
        all
    }

    /// Packages to install into the zip's `node_modules`: `external` minus `exclude`, glob
    /// patterns (like `@aws-sdk/*`) dropped, as serverless-esbuild does.
    pub fn installed_externals(&self) -> Vec<String> {
        if self.exclude.iter().any(|e| e == "*") {
            return Vec::new();
        }
        self.external
            .iter()
            .filter(|e| !self.exclude.contains(e) && !e.contains('*'))
            .cloned()
            .collect()
    }

    /// esbuild command-line flags for these options (entry and output excluded).
    pub fn cli_flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.bundle {
            f.push("--bundle".to_string());
        }
        if self.minify {
            f.push("--minify".into());
        }
        if self.keep_names {
            f.push("--keep-names".into());
        }
        match self.sourcemap.as_deref() {
            None => {}
            Some("true") => f.push("--sourcemap".into()),
            Some(kind) => f.push(format!("--sourcemap={kind}")),
        }
        f.push(format!("--platform={}", self.platform));
        f.push(format!("--target={}", self.target));
        f.push(match self.format {
            Format::Cjs => "--format=cjs".into(),
            Format::Esm => "--format=esm".into(),
        });
        if self.out_extension != ".js" {
            f.push(format!("--out-extension:.js={}", self.out_extension));
        }
        // Without bundling nothing is inlined, so there is nothing to keep external (and
        // esbuild refuses `--external` without `--bundle`).
        if self.bundle {
            for e in self.bundle_externals() {
                f.push(format!("--external:{e}"));
            }
        }
        for (k, v) in &self.define {
            f.push(format!("--define:{k}={v}"));
        }
        for (k, v) in &self.banner {
            f.push(format!("--banner:{k}={v}"));
        }
        for (k, v) in &self.footer {
            f.push(format!("--footer:{k}={v}"));
        }
        if !self.main_fields.is_empty() {
            f.push(format!("--main-fields={}", self.main_fields.join(",")));
        }
        if !self.resolve_extensions.is_empty() {
            f.push(format!(
                "--resolve-extensions={}",
                self.resolve_extensions.join(",")
            ));
        }
        if let Some(t) = &self.tsconfig {
            f.push(format!("--tsconfig={t}"));
        }
        for (ext, loader) in &self.loader {
            f.push(format!("--loader:{ext}={loader}"));
        }
        f
    }
}

/// `nodejs22.x` → 22.
pub fn node_major(runtime: &str) -> Option<u32> {
    runtime
        .strip_prefix("nodejs")?
        .strip_suffix(".x")?
        .parse()
        .ok()
}

fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("must be true or false, not {v}"))
}

fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("must be a string, not {other}")),
    }
}

fn string_or_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(string).collect(),
        other => Err(format!(
            "must be a string or a list of strings, not {other}"
        )),
    }
}

/// A map of strings, e.g. `define: {'process.env.X': '"1"'}`; non-string values are written
/// as JSON (esbuild's CLI takes `define` values as JSON text).
fn pairs(v: &Value) -> Result<Vec<(String, String)>, String> {
    let map = v
        .as_object()
        .ok_or_else(|| format!("must be a map, not {v}"))?;
    Ok(map
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

fn sourcemap(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Bool(false) | Value::Null => Ok(None),
        Value::Bool(true) => Ok(Some("true".into())),
        Value::String(s) if ["inline", "linked", "external", "both"].contains(&s.as_str()) => {
            Ok(Some(s.clone()))
        }
        other => Err(format!(
            "must be true, false, inline, linked, external or both, not {other}"
        )),
    }
}

fn packager(v: &Value) -> Result<String, String> {
    let p = string(v)?;
    match p.as_str() {
        "npm" | "yarn" | "pnpm" => Ok(p),
        other => Err(format!("{other:?} is not one of npm, yarn, pnpm")),
    }
}

fn concurrency(v: &Value) -> Result<Option<usize>, String> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(0) | None => Ok(None),
            Some(n) => Ok(Some(n as usize)),
        },
        // serverless-esbuild's default is `Infinity`, i.e. no bound beyond the cores here.
        Value::String(s) if s == "Infinity" => Ok(None),
        other => Err(format!("must be a positive number, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(raw: Value, source: OptionSource, runtime: &str) -> EsbuildOptions {
        EsbuildOptions::parse(&raw, source, runtime, None).unwrap()
    }

    #[test]
    fn serverless_esbuild_defaults() {
        let o = parse(Value::Null, OptionSource::ServerlessEsbuild, "nodejs22.x");
        assert!(o.bundle);
        assert_eq!(o.target, "node22");
        assert_eq!(o.platform, "node");
        assert_eq!(o.format, Format::Cjs);
        assert_eq!(o.bundle_externals(), vec!["aws-sdk"]);
        assert!(o.installed_externals().is_empty());
    }

    #[test]
    fn v4_defaults_leave_the_sdk_v3_external_on_18_and_later() {
        let o = parse(Value::Null, OptionSource::V4, "nodejs20.x");
        assert_eq!(o.bundle_externals(), vec!["@aws-sdk/*"]);
        assert_eq!(o.target, "node20");
        let old = parse(Value::Null, OptionSource::V4, "nodejs16.x");
        assert_eq!(old.bundle_externals(), vec!["aws-sdk"]);
    }

    #[test]
    fn user_values_override_defaults_and_unknown_keys_are_named() {
        let o = parse(
            json!({"target": "node18", "minify": true, "sourcemap": "inline",
                   "external": ["@aws-sdk/*", "sharp"], "keepNames": true,
                   "define": {"DEBUG": "false"}, "frobnicate": 1, "watch": {}}),
            OptionSource::ServerlessEsbuild,
            "nodejs22.x",
        );
        assert_eq!(o.target, "node18");
        assert!(o.minify && o.keep_names);
        assert_eq!(o.unknown, vec!["frobnicate"]);
        assert_eq!(o.installed_externals(), vec!["sharp"]);
        let flags = o.cli_flags();
        for flag in [
            "--bundle",
            "--minify",
            "--keep-names",
            "--sourcemap=inline",
            "--target=node18",
            "--external:@aws-sdk/*",
            "--external:sharp",
            "--external:aws-sdk",
            "--define:DEBUG=false",
        ] {
            assert!(flags.contains(&flag.to_string()), "{flag} in {flags:?}");
        }
    }

    #[test]
    fn without_bundling_no_external_is_passed() {
        let o = parse(
            json!({"bundle": false, "external": ["sharp"]}),
            OptionSource::ServerlessEsbuild,
            "nodejs22.x",
        );
        let flags = o.cli_flags();
        assert!(
            !flags.iter().any(|f| f.starts_with("--external")),
            "{flags:?}"
        );
        assert!(!flags.contains(&"--bundle".to_string()), "{flags:?}");
        assert_eq!(o.installed_externals(), vec!["sharp"]);
    }

    #[test]
    fn format_follows_package_type_and_checks_the_extension() {
        let esm =
            EsbuildOptions::parse(&Value::Null, OptionSource::V4, "nodejs20.x", Some("module"))
                .unwrap();
        assert_eq!(esm.format, Format::Esm);
        assert_eq!(esm.out_extension, ".mjs");
        assert!(
            esm.cli_flags()
                .contains(&"--out-extension:.js=.mjs".to_string())
        );
        let err = EsbuildOptions::parse(
            &json!({"outputFileExtension": ".mjs"}),
            OptionSource::ServerlessEsbuild,
            "nodejs20.x",
            None,
        )
        .unwrap_err();
        assert!(err.contains(".mjs needs format esm"), "{err}");
        let bad = EsbuildOptions::parse(
            &json!({"bundle": "yes"}),
            OptionSource::ServerlessEsbuild,
            "nodejs20.x",
            None,
        )
        .unwrap_err();
        assert!(bad.contains("\"bundle\""), "{bad}");
    }

    #[test]
    fn exclude_star_installs_nothing() {
        let o = parse(
            json!({"external": ["uuid"], "exclude": "*"}),
            OptionSource::ServerlessEsbuild,
            "nodejs20.x",
        );
        assert!(o.installed_externals().is_empty());
        assert_eq!(o.bundle_externals(), vec!["uuid"]);
    }
}
