//! `deployer-package`: file selection like Serverless v3 and deterministic zip artifacts with
//! content hashes. No AWS; only the builders run external tools (esbuild, pip, npm).
//!
//! [`package`] takes plain inputs ([`PackageRequest`], mapped from the service model by the
//! CLI), decides which artifact each function uses (the service zip, its own zip when packaged
//! individually, a prebuilt `artifact`, or none when `disable`d), selects files with v3's
//! ordered patterns and writes zips whose bytes depend only on entry names, contents and
//! execute bits. See `docs/packaging.md` for the rules and the differences from v3.
//!
//! [`build`] runs before packaging when functions need building (esbuild bundles, pip
//! requirements; `docs/building.md`); its output goes to [`package_with`] as
//! [`PackageOptions`], so built files are zipped by the same deterministic writer.

mod archive;
pub mod build;
pub mod collate;
mod devdeps;
pub mod node;
mod select;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::select::PatternSet;

/// Files v3 always leaves out, before any user pattern; also deployer's account lock file,
/// which belongs to the repository, not to the code.
pub const DEFAULT_EXCLUDES: [&str; 8] = [
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
    "deployer.accounts.json",
];

/// What to package: the service-level `package` settings plus each function's.
#[derive(Debug, Clone, Default)]
pub struct PackageRequest {
    /// The service directory (where the config file lives); file names in zips are relative to it.
    pub service_dir: PathBuf,
    /// `service:` name; the shared zip is `<service_name>.zip`.
    pub service_name: String,
    /// Config file name relative to the service dir (e.g. `serverless.yml`); excluded by default.
    pub config_file: Option<String>,
    /// `useDotenv: true`: `.env*` files are excluded.
    pub use_dotenv: bool,
    /// Deprecated `package.exclude` (each entry is applied as `!entry`).
    pub exclude: Vec<String>,
    /// Deprecated `package.include`.
    pub include: Vec<String>,
    /// `package.patterns`, applied in order (`!` excludes).
    pub patterns: Vec<String>,
    /// `package.individually`.
    pub individually: bool,
    /// `package.artifact`: a prebuilt zip (relative to the service dir or absolute) used as is.
    pub artifact: Option<PathBuf>,
    /// Every function of the service, in config order.
    pub functions: Vec<FunctionPackaging>,
}

/// One function's `package` settings.
#[derive(Debug, Clone, Default)]
pub struct FunctionPackaging {
    /// Function key in `functions:`; an individual zip is `<key>.zip`.
    pub key: String,
    /// `functions.<key>.package.patterns` (used only when packaged individually).
    pub patterns: Vec<String>,
    /// Deprecated `functions.<key>.package.include` (used only when packaged individually).
    pub include: Vec<String>,
    /// Deprecated `functions.<key>.package.exclude` (used only when packaged individually).
    pub exclude: Vec<String>,
    /// `functions.<key>.package.individually`.
    pub individually: bool,
    /// `functions.<key>.package.artifact`: a prebuilt zip used as is.
    pub artifact: Option<PathBuf>,
    /// `functions.<key>.package.disable`: no artifact for this function.
    pub disable: bool,
}

/// A directory produced by a build whose files go into a function's zip, named by their path
/// relative to `dir`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuiltTree {
    /// The directory.
    pub dir: PathBuf,
    /// How the tree combines with the files v3's patterns select.
    pub mode: TreeMode,
    /// When set, only the files under these directories of the tree (entry-name prefixes such
    /// as `node_modules/uuid`) go into the zip; `None` keeps every file.
    pub only: Option<Vec<String>>,
}

/// How a [`BuiltTree`] combines with the selected service files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TreeMode {
    /// The zip holds the built tree only (a bundle replaces the sources).
    Replace,
    /// The tree's files are added over the selected files; same names are replaced (installed
    /// requirements next to the handler).
    Merge,
}

/// Packaging settings beyond the configuration's `package` block.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// `package.excludeDevDependencies` (v3 default true): leave out `node_modules` packages
    /// reachable only from `devDependencies`.
    pub exclude_dev_dependencies: bool,
    /// Function key → built trees for its zip (from [`build::build`]).
    pub trees: BTreeMap<String, Vec<BuiltTree>>,
    /// Function key → entry names of which at least one must be in its zip (the handler's file).
    pub handler_files: BTreeMap<String, Vec<String>>,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions {
            exclude_dev_dependencies: true,
            trees: BTreeMap::new(),
            handler_files: BTreeMap::new(),
        }
    }
}

/// One artifact to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Zip basename (`<service>.zip`, `<fnKey>.zip`, or a prebuilt artifact's basename); the
    /// S3 object name.
    pub name: String,
    /// Where the file is: in the output directory, or the prebuilt artifact's own path.
    pub path: PathBuf,
    /// base64 SHA-256 of the file's bytes (Lambda `CodeSha256`, S3 `filesha256` metadata).
    pub sha256_base64: String,
    /// Size in bytes.
    pub size: u64,
    /// Keys of the functions that use this artifact, in config order.
    pub functions: Vec<String>,
    /// True when the file was given by `artifact` and not built here.
    pub prebuilt: bool,
}

/// The artifacts written (or reused) and which one each function uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageResult {
    /// Every artifact: zips built here first (the service zip, then function zips in config
    /// order), then prebuilt artifacts in order of first use.
    pub artifacts: Vec<Artifact>,
    /// Function key → artifact name (disabled functions are absent).
    pub function_artifacts: BTreeMap<String, String>,
    /// What the zips take in that the user may not expect (files through a symlink leading
    /// outside the service, `.env` files without `useDotenv: true`); packaged all the same, as
    /// v3 does.
    pub warnings: Vec<String>,
}

/// Why packaging failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A pattern set leaves no file in an artifact.
    #[error(
        "No file matches include / exclude patterns for {context} in {service_dir} \
         (patterns applied in order: {patterns}); check package.patterns{hint}",
        patterns = .patterns.join(", "),
        hint = if .context.starts_with("function") { " and the function's package.patterns" } else { "" }
    )]
    NoFileMatches {
        /// `service "name"` or `function "key"`.
        context: String,
        /// The service directory that was searched.
        service_dir: PathBuf,
        /// The full ordered pattern list (defaults included).
        patterns: Vec<String>,
    },
    /// A pattern uses syntax that cannot be compiled or is not supported.
    #[error("Invalid package pattern {pattern:?} for {context}: {reason}")]
    InvalidPattern {
        /// `service "name"` or `function "key"`.
        context: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A prebuilt `artifact` cannot be read.
    #[error("Cannot access package artifact at \"{path}\"{owner}: {source}", owner = .function.as_ref().map(|f| format!(" (for \"{f}\")")).unwrap_or_default())]
    ArtifactNotFound {
        /// The artifact path (resolved against the service dir).
        path: PathBuf,
        /// The function whose `package.artifact` it is; `None` for `package.artifact`.
        function: Option<String>,
        /// The underlying error.
        source: io::Error,
    },
    /// A prebuilt `artifact` is not a regular file (a directory, a device such as `/dev/zero`,
    /// a FIFO or a socket), so it cannot be hashed and uploaded.
    #[error(
        "package.artifact \"{path}\"{owner} is {kind}, not a regular file; point it at the zip file to deploy",
        owner = .function.as_ref().map(|f| format!(" (for \"{f}\")")).unwrap_or_default()
    )]
    ArtifactNotRegular {
        /// The artifact path (resolved against the service dir).
        path: PathBuf,
        /// The function whose `package.artifact` it is; `None` for `package.artifact`.
        function: Option<String>,
        /// What it is instead (`a directory`, `a device`, …).
        kind: &'static str,
    },
    /// A prebuilt `artifact` is larger than any Lambda code package can be.
    #[error(
        "package.artifact \"{path}\"{owner} is {size} bytes, over the limit of {limit} bytes \
         (Lambda's 250 MB limit for code); use a smaller package or a container image",
        owner = .function.as_ref().map(|f| format!(" (for \"{f}\")")).unwrap_or_default()
    )]
    ArtifactTooLarge {
        /// The artifact path (resolved against the service dir).
        path: PathBuf,
        /// The function whose `package.artifact` it is; `None` for `package.artifact`.
        function: Option<String>,
        /// Its size in bytes.
        size: u64,
        /// [`MAX_ARTIFACT_BYTES`].
        limit: u64,
    },
    /// An artifact name would put the file outside the output directory.
    #[error(
        "Refusing to write artifact {name:?}: it is not a plain file name inside {out_dir} \
         (a name must not be empty, contain \"/\" or \"\\\", or be \".\" or \"..\"); check the service \
         and function names"
    )]
    UnsafeOutputName {
        /// The name as given.
        name: String,
        /// The output directory it must stay in.
        out_dir: PathBuf,
    },
    /// An `s3://` or `https://` artifact, which this packager does not download.
    #[error(
        "package.artifact {uri:?}{owner} is a remote URI; download it and set the local path instead",
        owner = .function.as_ref().map(|f| format!(" (for \"{f}\")")).unwrap_or_default()
    )]
    RemoteArtifact {
        /// The URI as given.
        uri: String,
        /// The function whose `package.artifact` it is; `None` for `package.artifact`.
        function: Option<String>,
    },
    /// Two different artifacts would have the same file name (and S3 key).
    #[error(
        "Two artifacts are named {name:?}: {first} and {second}; rename a function or an artifact file so each artifact name is unique"
    )]
    DuplicateArtifactName {
        /// The clashing basename.
        name: String,
        /// What produces the first one.
        first: String,
        /// What produces the second one.
        second: String,
    },
    /// The output directory would be packaged into its own artifacts.
    #[error(
        "The package output directory {path} is the service directory itself; choose a subdirectory such as .serverless"
    )]
    OutputIsServiceDir {
        /// The output directory.
        path: PathBuf,
    },
    /// The service directory could not be listed.
    #[error("Cannot list files under {path}: {source}")]
    Walk {
        /// The file or directory that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file name is not valid UTF-8 and cannot be stored as a zip entry name.
    #[error(
        "Cannot package {path}: the file name is not valid UTF-8; rename it or exclude it with a pattern"
    )]
    NonUtf8Path {
        /// The path relative to the service dir.
        path: PathBuf,
    },
    /// A selected file could not be read.
    #[error("Cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The output directory or an artifact could not be written.
    #[error("Cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A function's handler file is not in its artifact.
    #[error(
        "Function \"{function}\": its handler file {expected} is not in {artifact}; check the handler path (relative to the service directory) and package.patterns",
        expected = .expected.join(" or ")
    )]
    HandlerMissing {
        /// The function key.
        function: String,
        /// The entry names looked for.
        expected: Vec<String>,
        /// The artifact name.
        artifact: String,
    },
    /// The zip library refused an entry or the archive.
    #[error("Cannot build zip entry or archive {path}: {message}")]
    Zip {
        /// The file being added or the archive being written.
        path: PathBuf,
        /// The library's message.
        message: String,
    },
}

impl deployer_config::Classify for PackageError {
    fn kind(&self) -> deployer_config::Kind {
        deployer_config::Kind::Package
    }
}

impl deployer_config::Classify for build::BuildError {
    fn kind(&self) -> deployer_config::Kind {
        deployer_config::Kind::Build
    }
}

/// The largest prebuilt artifact accepted: 250 MiB, Lambda's limit for a function's code
/// (unzipped, so a zip is never larger in practice). Bounds the bytes hashed and uploaded.
pub const MAX_ARTIFACT_BYTES: u64 = 250 * 1024 * 1024;

/// Joins an artifact file name to the output directory, refusing a name that would land
/// anywhere else: empty, absolute, `.`/`..`, or containing a `/` or `\\` separator. Every file
/// written into the output directory goes through this, whatever the caller validated.
pub fn output_path(out_dir: &Path, name: &str) -> Result<PathBuf, PackageError> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && matches!(
            Path::new(name).components().collect::<Vec<_>>().as_slice(),
            [std::path::Component::Normal(_)]
        );
    if plain {
        Ok(out_dir.join(name))
    } else {
        Err(PackageError::UnsafeOutputName {
            name: name.to_string(),
            out_dir: out_dir.to_path_buf(),
        })
    }
}

/// base64 SHA-256 of a file's bytes, the form Lambda reports as `CodeSha256`.
pub fn sha256_base64_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(hasher.finalize()))
}

/// Where a function's code comes from.
enum Origin {
    /// The shared `<service>.zip`.
    Service,
    /// Its own `<key>.zip`.
    Individual,
    /// A prebuilt file, resolved against the service dir.
    Prebuilt(PathBuf),
}

/// A zip to build: its name, which pattern list it uses, who uses it.
struct ZipJob {
    name: String,
    context: String,
    patterns: Vec<String>,
    functions: Vec<String>,
}

/// Packages the service into `out_dir` (created if missing) and returns the artifacts.
///
/// Follows v3's `packageService`: a function with `disable` gets nothing; one with its own
/// `artifact` uses that file; one packaged individually (service or function level) gets
/// `<key>.zip` — or the service `artifact` when only the service is `individually` and the
/// function is not; all others share `<service>.zip` (or the service `artifact`). Prebuilt
/// artifacts are not copied or re-zipped. Zips whose file selections are identical are built
/// once and copied.
pub fn package(req: &PackageRequest, out_dir: &Path) -> Result<PackageResult, PackageError> {
    package_with(req, out_dir, &PackageOptions::default())
}

/// [`package`] with explicit [`PackageOptions`]: dev-dependency exclusion, built trees (bundles,
/// installed requirements) and the handler check, all before any zip is written.
pub fn package_with(
    req: &PackageRequest,
    out_dir: &Path,
    options: &PackageOptions,
) -> Result<PackageResult, PackageError> {
    let mut origins = Vec::with_capacity(req.functions.len());
    for function in &req.functions {
        if function.disable {
            origins.push(None);
            continue;
        }
        let origin = if let Some(artifact) = &function.artifact {
            Origin::Prebuilt(prebuilt_path(req, artifact, Some(&function.key))?)
        } else if function.individually || req.individually {
            match &req.artifact {
                Some(artifact) if !function.individually => {
                    Origin::Prebuilt(prebuilt_path(req, artifact, None)?)
                }
                _ => Origin::Individual,
            }
        } else {
            match &req.artifact {
                Some(artifact) => Origin::Prebuilt(prebuilt_path(req, artifact, None)?),
                None => Origin::Service,
            }
        };
        origins.push(Some(origin));
    }

    // Group functions by artifact; the service zip (or service artifact) comes first.
    let mut jobs: Vec<ZipJob> = Vec::new();
    let mut prebuilt: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let service_users: Vec<String> = req
        .functions
        .iter()
        .zip(&origins)
        .filter(|(_, o)| matches!(o, Some(Origin::Service)))
        .map(|(f, _)| f.key.clone())
        .collect();
    if !service_users.is_empty() {
        jobs.push(ZipJob {
            name: format!("{}.zip", req.service_name),
            context: format!("service \"{}\"", req.service_name),
            patterns: pattern_list(req, None),
            functions: service_users,
        });
    }
    for (function, origin) in req.functions.iter().zip(&origins) {
        match origin {
            Some(Origin::Individual) => jobs.push(ZipJob {
                name: format!("{}.zip", function.key),
                context: format!("function \"{}\"", function.key),
                patterns: pattern_list(req, Some(function)),
                functions: vec![function.key.clone()],
            }),
            Some(Origin::Prebuilt(path)) => match prebuilt.iter_mut().find(|(p, _)| p == path) {
                Some((_, users)) => users.push(function.key.clone()),
                None => prebuilt.push((path.clone(), vec![function.key.clone()])),
            },
            _ => {}
        }
    }
    check_unique_names(&jobs, &prebuilt)?;

    let (mut artifacts, mut warnings) = (Vec::new(), Vec::new());
    if !jobs.is_empty() {
        (artifacts, warnings) = build_zips(req, out_dir, jobs, options)?;
    }
    for (path, functions) in prebuilt {
        let name = file_name(&path);
        let size = std::fs::metadata(&path)
            .map_err(|source| PackageError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        let sha256_base64 = sha256_base64_file(&path).map_err(|source| PackageError::Read {
            path: path.clone(),
            source,
        })?;
        artifacts.push(Artifact {
            name,
            path,
            sha256_base64,
            size,
            functions,
            prebuilt: true,
        });
    }

    let function_artifacts = artifacts
        .iter()
        .flat_map(|a| a.functions.iter().map(|f| (f.clone(), a.name.clone())))
        .collect();
    Ok(PackageResult {
        artifacts,
        function_artifacts,
        warnings,
    })
}

/// Resolves and checks a prebuilt artifact path like v3 (`fsp.access` before packaging).
fn prebuilt_path(
    req: &PackageRequest,
    artifact: &Path,
    function: Option<&str>,
) -> Result<PathBuf, PackageError> {
    let text = artifact.to_string_lossy();
    if text.starts_with("s3://") || text.starts_with("https://") || text.starts_with("http://") {
        return Err(PackageError::RemoteArtifact {
            uri: text.into_owned(),
            function: function.map(str::to_string),
        });
    }
    let path = req.service_dir.join(artifact);
    let function = function.map(str::to_string);
    // `metadata` follows symlinks and never opens the file, so a FIFO cannot block here.
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(source) => {
            return Err(PackageError::ArtifactNotFound {
                path,
                function,
                source,
            });
        }
    };
    if !metadata.is_file() {
        let kind = deployer_config::limits::file_kind(&metadata);
        return Err(PackageError::ArtifactNotRegular {
            path,
            function,
            kind,
        });
    }
    if metadata.len() > MAX_ARTIFACT_BYTES {
        return Err(PackageError::ArtifactTooLarge {
            path,
            function,
            size: metadata.len(),
            limit: MAX_ARTIFACT_BYTES,
        });
    }
    Ok(path)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

fn check_unique_names(
    jobs: &[ZipJob],
    prebuilt: &[(PathBuf, Vec<String>)],
) -> Result<(), PackageError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let owners = jobs
        .iter()
        .map(|j| (j.name.clone(), j.context.clone()))
        .chain(
            prebuilt
                .iter()
                .map(|(p, _)| (file_name(p), format!("artifact {}", p.display()))),
        );
    for (name, owner) in owners {
        if let Some(first) = seen.get(&name) {
            return Err(PackageError::DuplicateArtifactName {
                name,
                first: first.clone(),
                second: owner,
            });
        }
        seen.insert(name, owner);
    }
    Ok(())
}

/// v3's ordered pattern list: `_.union` of the excludes (defaults, config file,
/// `package.exclude`, `.env*`, function excludes), each negated, then `_.union` of the includes
/// (`package.include`, `package.patterns`, function include and patterns).
fn pattern_list(req: &PackageRequest, function: Option<&FunctionPackaging>) -> Vec<String> {
    let mut excludes: Vec<String> = DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect();
    excludes.extend(req.config_file.iter().cloned());
    excludes.extend(req.exclude.iter().cloned());
    if req.use_dotenv {
        excludes.push(".env*".to_string());
    }
    let mut includes: Vec<String> = req.include.iter().chain(&req.patterns).cloned().collect();
    if let Some(function) = function {
        excludes.extend(function.exclude.iter().cloned());
        includes.extend(function.include.iter().chain(&function.patterns).cloned());
    }
    let mut patterns: Vec<String> = union(excludes)
        .into_iter()
        .map(|p| match p.strip_prefix('!') {
            Some(rest) => rest.to_string(),
            None => format!("!{p}"),
        })
        .collect();
    patterns.extend(union(includes));
    patterns
}

/// lodash `_.union`: first occurrence wins, later duplicates are dropped.
fn union(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// Walks the service once, selects files per job and writes each distinct zip; also returns
/// the selection's warnings ([`select::warnings`]).
fn build_zips(
    req: &PackageRequest,
    out_dir: &Path,
    jobs: Vec<ZipJob>,
    options: &PackageOptions,
) -> Result<(Vec<Artifact>, Vec<String>), PackageError> {
    // Refuse a bad name before anything is written.
    for job in &jobs {
        output_path(out_dir, &job.name)?;
    }
    std::fs::create_dir_all(out_dir).map_err(|source| PackageError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let skip = output_inside_service(&req.service_dir, out_dir)?;
    // Zips of bundles only need no service file: skip the walk (and node_modules with it).
    let bundles_only = jobs.iter().all(|j| fully_bundled(&j.functions, options));
    let walked = if bundles_only {
        select::Walk::default()
    } else {
        select::walk_all(&req.service_dir, skip.as_deref())?
    };
    let mut candidates = walked.files;
    candidates.sort_by(|a, b| collate::locale_cmp(&a.name, &b.name));

    // Selections in parallel (each is a pass over every candidate).
    let selections: Vec<Vec<usize>> = jobs
        .par_iter()
        .map(|job| {
            let set =
                PatternSet::new(&job.patterns).map_err(|err| PackageError::InvalidPattern {
                    context: job.context.clone(),
                    pattern: err.pattern,
                    reason: err.reason,
                })?;
            let selected = set.select(&candidates);
            if selected.is_empty() && job_trees(&job.functions, options).is_empty() {
                return Err(PackageError::NoFileMatches {
                    context: job.context.clone(),
                    service_dir: req.service_dir.clone(),
                    patterns: job.patterns.clone(),
                });
            }
            Ok(selected)
        })
        .collect::<Result<_, _>>()?;
    let selections = if options.exclude_dev_dependencies && !bundles_only {
        devdeps::drop_dev_only(&req.service_dir, &candidates, selections)
    } else {
        selections
    };
    let service_files = candidates.len();
    let selections = merge_trees(&jobs, options, &mut candidates, selections)?;
    let zips: Vec<(&str, &[usize])> = jobs
        .iter()
        .zip(&selections)
        .map(|(job, selection)| (job.name.as_str(), selection.as_slice()))
        .collect();
    let warnings = select::warnings(
        &candidates[..service_files],
        &zips,
        &walked.outside,
        req.use_dotenv,
    );
    check_handlers(&jobs, options, &candidates, &selections)?;

    // Build each distinct selection once; identical ones are copies of the same bytes.
    let mut first_with: HashMap<&[usize], usize> = HashMap::new();
    let mut builds: Vec<usize> = Vec::new();
    let mut copy_of: Vec<Option<usize>> = Vec::with_capacity(jobs.len());
    for (index, selection) in selections.iter().enumerate() {
        match first_with.get(selection.as_slice()) {
            Some(&first) => copy_of.push(Some(first)),
            None => {
                first_with.insert(selection, index);
                builds.push(index);
                copy_of.push(None);
            }
        }
    }
    // A file used by several distinct zips is read and compressed once for all of them.
    let mut uses = vec![0u32; candidates.len()];
    for &index in &builds {
        for &candidate in &selections[index] {
            uses[candidate] += 1;
        }
    }
    let shared_files: Vec<usize> = (0..candidates.len()).filter(|&i| uses[i] > 1).collect();
    let shared: Vec<archive::Compressed> = shared_files
        .par_iter()
        .map(|&i| archive::compress(&candidates[i]))
        .collect::<Result<_, _>>()?;
    let mut shared_slot: Vec<Option<usize>> = vec![None; candidates.len()];
    for (slot, &candidate) in shared_files.iter().enumerate() {
        shared_slot[candidate] = Some(slot);
    }

    let built: Vec<(usize, archive::Written)> = builds
        .par_iter()
        .map(|&index| {
            let entries: Vec<archive::Source<'_>> = selections[index]
                .iter()
                .map(|&i| match shared_slot[i] {
                    Some(slot) => archive::Source::Ready(&shared[slot]),
                    None => archive::Source::File(&candidates[i]),
                })
                .collect();
            let target = output_path(out_dir, &jobs[index].name)?;
            archive::write_zip(&entries, &target).map(|written| (index, written))
        })
        .collect::<Result<_, _>>()?;
    let written: HashMap<usize, archive::Written> = built.into_iter().collect();

    let mut artifacts: Vec<Artifact> = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.into_iter().enumerate() {
        let path = output_path(out_dir, &job.name)?;
        // A copy always refers to an earlier job, whose artifact is already in the list.
        let origin = copy_of[index].unwrap_or(index);
        if origin != index {
            std::fs::copy(&artifacts[origin].path, &path).map_err(|source| {
                PackageError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        let w = &written[&origin];
        artifacts.push(Artifact {
            name: job.name,
            path,
            sha256_base64: w.sha256_base64.clone(),
            size: w.size,
            functions: job.functions,
            prebuilt: false,
        });
    }
    Ok((artifacts, warnings))
}

/// A bundle replaces the sources only when every function of the zip is bundled: a function
/// that is not (Python, `skipEsbuild`, ...) still needs its selected files.
fn fully_bundled(functions: &[String], options: &PackageOptions) -> bool {
    functions.iter().all(|f| {
        options
            .trees
            .get(f)
            .is_some_and(|t| t.iter().any(|t| t.mode == TreeMode::Replace))
    })
}

/// The distinct built trees of a zip's functions, in a stable order.
fn job_trees(functions: &[String], options: &PackageOptions) -> Vec<BuiltTree> {
    let mut trees: Vec<BuiltTree> = functions
        .iter()
        .filter_map(|f| options.trees.get(f))
        .flatten()
        .cloned()
        .collect();
    trees.sort();
    trees.dedup();
    trees
}

/// Adds each job's built trees to its selection: their files join the candidate list (so the
/// writer treats them like any other file) and replace same-named entries; `Replace` trees
/// drop the selected service files when every function of the zip has one.
fn merge_trees(
    jobs: &[ZipJob],
    options: &PackageOptions,
    candidates: &mut Vec<select::Candidate>,
    selections: Vec<Vec<usize>>,
) -> Result<Vec<Vec<usize>>, PackageError> {
    let mut walked: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    let mut merged = Vec::with_capacity(selections.len());
    for (job, selection) in jobs.iter().zip(selections) {
        let trees = job_trees(&job.functions, options);
        if trees.is_empty() {
            merged.push(selection);
            continue;
        }
        let replace = fully_bundled(&job.functions, options);
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        if !replace {
            for i in selection {
                by_name.insert(candidates[i].name.clone(), i);
            }
        }
        for tree in &trees {
            if !walked.contains_key(&tree.dir) {
                let files = select::walk(&tree.dir, None)?;
                let start = candidates.len();
                candidates.extend(files);
                walked.insert(tree.dir.clone(), (start..candidates.len()).collect());
            }
            for &i in &walked[&tree.dir] {
                if tree_keeps(tree, &candidates[i].name) {
                    by_name.insert(candidates[i].name.clone(), i);
                }
            }
        }
        let mut list: Vec<usize> = by_name.into_values().collect();
        list.sort_by(|&a, &b| collate::locale_cmp(&candidates[a].name, &candidates[b].name));
        merged.push(list);
    }
    Ok(merged)
}

/// Whether a file of `tree` (named as in the zip) is one the tree puts in.
fn tree_keeps(tree: &BuiltTree, name: &str) -> bool {
    tree.only.as_ref().is_none_or(|dirs| {
        dirs.iter().any(|d| {
            name.strip_prefix(d.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
    })
}

/// Every function's handler file must be in the zip it uses.
fn check_handlers(
    jobs: &[ZipJob],
    options: &PackageOptions,
    candidates: &[select::Candidate],
    selections: &[Vec<usize>],
) -> Result<(), PackageError> {
    for (job, selection) in jobs.iter().zip(selections) {
        for function in &job.functions {
            let Some(expected) = options.handler_files.get(function) else {
                continue;
            };
            if expected.is_empty() {
                continue;
            }
            let found = selection
                .iter()
                .any(|&i| expected.contains(&candidates[i].name));
            if !found {
                return Err(PackageError::HandlerMissing {
                    function: function.clone(),
                    expected: expected.clone(),
                    artifact: job.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The output directory's path under the service dir, if it lies inside it (so the walk skips
/// it and zips never contain earlier zips).
fn output_inside_service(
    service_dir: &Path,
    out_dir: &Path,
) -> Result<Option<PathBuf>, PackageError> {
    let canonical = |p: &Path| {
        p.canonicalize().map_err(|source| PackageError::Walk {
            path: p.to_path_buf(),
            source,
        })
    };
    let service = canonical(service_dir)?;
    let out = canonical(out_dir)?;
    if out == service {
        return Err(PackageError::OutputIsServiceDir {
            path: out_dir.to_path_buf(),
        });
    }
    Ok(out
        .strip_prefix(&service)
        .ok()
        .map(|rel| service_dir.join(rel)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn output_path_keeps_names_inside_the_output_dir() {
        let out = Path::new("/srv/app/.serverless");
        assert_eq!(output_path(out, "svc.zip").unwrap(), out.join("svc.zip"));
        assert_eq!(output_path(out, "...zip").unwrap(), out.join("...zip"));
        for bad in [
            "../outside.zip",
            "../../x.zip",
            "/etc/passwd",
            "a/b.zip",
            "a\\b.zip",
            "..",
            ".",
            "",
            "nul\0.zip",
        ] {
            let err = output_path(out, bad).unwrap_err();
            assert!(
                matches!(err, PackageError::UnsafeOutputName { .. }),
                "{bad}: {err}"
            );
            assert!(
                err.to_string().contains("Refusing to write artifact"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_service_name_that_escapes_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let service = dir.path().join("svc");
        std::fs::create_dir_all(&service).unwrap();
        std::fs::write(service.join("handler.js"), "x").unwrap();
        let req = PackageRequest {
            service_name: "../../outside".into(),
            service_dir: service.clone(),
            functions: vec![FunctionPackaging {
                key: "f".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = service.join(".serverless");
        let err = package(&req, &out).unwrap_err();
        assert!(
            matches!(err, PackageError::UnsafeOutputName { .. }),
            "{err}"
        );
        assert!(!out.exists(), "nothing is written, not even the output dir");
        assert!(!dir.path().join("outside.zip").exists());
    }

    #[cfg(unix)]
    #[test]
    fn prebuilt_artifacts_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.zip");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        for (artifact, kind) in [
            (PathBuf::from("/dev/zero"), "a device"),
            (fifo, "a FIFO"),
            (dir.path().to_path_buf(), "a directory"),
        ] {
            let req = PackageRequest {
                service_name: "svc".into(),
                service_dir: dir.path().to_path_buf(),
                artifact: Some(artifact.clone()),
                functions: vec![FunctionPackaging {
                    key: "f".into(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let err = package(&req, &dir.path().join("out")).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, PackageError::ArtifactNotRegular { .. }) && text.contains(kind),
                "{}: {text}",
                artifact.display()
            );
        }
    }

    #[test]
    fn a_tree_limited_to_directories_keeps_only_their_files() {
        let tree = |only: Option<&[&str]>| BuiltTree {
            dir: PathBuf::from("/t"),
            mode: TreeMode::Replace,
            only: only.map(s),
        };
        let some = tree(Some(&["node_modules/uuid", "node_modules/@s/p"]));
        for kept in [
            "node_modules/uuid/package.json",
            "node_modules/uuid/node_modules/x/index.js",
            "node_modules/@s/p/index.js",
        ] {
            assert!(tree_keeps(&some, kept), "{kept}");
        }
        for left in [
            "node_modules/uuid",
            "node_modules/uuidx/index.js",
            "node_modules/.bin/uuid",
            "node_modules/.package-lock.json",
            "node_modules/@s/q/index.js",
        ] {
            assert!(!tree_keeps(&some, left), "{left}");
        }
        assert!(!tree_keeps(&tree(Some(&[])), "node_modules/uuid/a.js"));
        assert!(tree_keeps(&tree(None), "node_modules/.bin/uuid"));
    }

    #[test]
    fn pattern_list_order_matches_v3() {
        let req = PackageRequest {
            config_file: Some("serverless.yml".into()),
            use_dotenv: true,
            exclude: s(&["tmp/**", "!tmp/keep"]),
            include: s(&["extra/**"]),
            patterns: s(&["!docs/**", "extra/**"]),
            ..Default::default()
        };
        let function = FunctionPackaging {
            key: "f".into(),
            exclude: s(&["f-tmp/**"]),
            include: s(&["f-inc"]),
            patterns: s(&["f/**", "!docs/**"]),
            ..Default::default()
        };
        let mut expected: Vec<String> = DEFAULT_EXCLUDES.iter().map(|p| format!("!{p}")).collect();
        expected.extend(s(&["!serverless.yml", "!tmp/**", "tmp/keep", "!.env*"]));
        expected.extend(s(&["extra/**", "!docs/**"]));
        assert_eq!(pattern_list(&req, None), expected);

        let mut expected: Vec<String> = DEFAULT_EXCLUDES.iter().map(|p| format!("!{p}")).collect();
        expected.extend(s(&[
            "!serverless.yml",
            "!tmp/**",
            "tmp/keep",
            "!.env*",
            "!f-tmp/**",
        ]));
        // `extra/**` and `!docs/**` appear once: `_.union` keeps the first occurrence.
        expected.extend(s(&["extra/**", "!docs/**", "f-inc", "f/**"]));
        assert_eq!(pattern_list(&req, Some(&function)), expected);
    }
}
