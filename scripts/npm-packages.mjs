#!/usr/bin/env node
// Builds deployer's npm packages from release binaries: the main package (npm/deployer: the
// launcher, with every platform package as an optional dependency) and one package per platform
// (os/cpu fields, the binary in bin/). The version is the workspace's (Cargo.toml).
//
//   node scripts/npm-packages.mjs --out DIR [--pack] TARGET=BINARY...
//
// TARGET is a Rust target triple of the release workflow (x86_64-unknown-linux-musl, ...).
// Only the platforms given are built; the main package names all of them. --pack also runs
// `npm pack` into DIR. Publish the platform packages before the main one.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCOPE = "@deployer-rs";

/** Rust target -> the npm platform package: its name suffix and its os/cpu fields. */
const TARGETS = {
  "x86_64-unknown-linux-musl": { suffix: "linux-x64", os: "linux", cpu: "x64" },
  "aarch64-unknown-linux-musl": { suffix: "linux-arm64", os: "linux", cpu: "arm64" },
  "x86_64-apple-darwin": { suffix: "darwin-x64", os: "darwin", cpu: "x64" },
  "aarch64-apple-darwin": { suffix: "darwin-arm64", os: "darwin", cpu: "arm64" },
};

function die(message) {
  console.error(`npm-packages: ${message}`);
  process.exit(1);
}

/** The `version` of `[workspace.package]` in Cargo.toml. */
function workspaceVersion() {
  const toml = fs.readFileSync(path.join(root, "Cargo.toml"), "utf8");
  const section = toml.split(/^\[workspace\.package\]\s*$/m)[1]?.split(/^\[/m)[0];
  const version = section?.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
  if (!version) die("no version in [workspace.package] of Cargo.toml");
  return version;
}

function parseArgs(argv) {
  const args = { out: null, pack: false, binaries: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--out") args.out = argv[++i];
    else if (arg === "--pack") args.pack = true;
    else if (arg.includes("=")) {
      const [target, binary] = [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)];
      if (!TARGETS[target]) {
        die(`unknown target ${target}; one of: ${Object.keys(TARGETS).join(", ")}`);
      }
      if (!fs.statSync(binary, { throwIfNoEntry: false })?.isFile()) {
        die(`${binary} (the binary for ${target}) is not a file`);
      }
      args.binaries.push({ target, binary });
    } else die(`unexpected argument ${arg}; usage: --out DIR [--pack] TARGET=BINARY...`);
  }
  if (!args.out) die("--out DIR is required");
  if (args.binaries.length === 0) die("give at least one TARGET=BINARY");
  return args;
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** One platform package: package.json, README and the binary (executable) in bin/. */
function platformPackage(out, version, { target, binary }) {
  const { suffix, os, cpu } = TARGETS[target];
  const dir = path.join(out, `deployer-${suffix}`);
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  fs.copyFileSync(binary, path.join(dir, "bin", "deployer"));
  fs.chmodSync(path.join(dir, "bin", "deployer"), 0o755);
  writeJson(path.join(dir, "package.json"), {
    name: `${SCOPE}/deployer-${suffix}`,
    version,
    description: `The deployer binary for ${os} ${cpu} (${target}); installed by @deployer-rs/deployer.`,
    license: "MIT OR Apache-2.0",
    repository: { type: "git", url: "git+https://github.com/deployer-rs/deployer.git" },
    os: [os],
    cpu: [cpu],
    files: ["bin/deployer", "README.md"],
    preferUnplugged: true,
  });
  fs.writeFileSync(
    path.join(dir, "README.md"),
    `# ${SCOPE}/deployer-${suffix}\n\nThe prebuilt \`deployer\` binary for ${os} ${cpu}. ` +
      "Install `@deployer-rs/deployer` instead: it picks this package on this platform.\n",
  );
  return dir;
}

/** The main package: npm/deployer with the version and the optional dependencies filled in. */
function mainPackage(out, version) {
  const dir = path.join(out, "deployer");
  fs.cpSync(path.join(root, "npm", "deployer"), dir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  manifest.version = version;
  manifest.optionalDependencies = Object.fromEntries(
    Object.values(TARGETS).map(({ suffix }) => [`${SCOPE}/deployer-${suffix}`, version]),
  );
  writeJson(path.join(dir, "package.json"), manifest);
  fs.chmodSync(path.join(dir, "bin", "deployer.js"), 0o755);
  return dir;
}

const args = parseArgs(process.argv.slice(2));
const version = workspaceVersion();
const out = path.resolve(args.out);
fs.mkdirSync(out, { recursive: true });
const dirs = [
  ...args.binaries.map((b) => platformPackage(out, version, b)),
  mainPackage(out, version),
];
for (const dir of dirs) {
  if (args.pack) {
    execFileSync("npm", ["pack", "--pack-destination", out, dir], { stdio: ["ignore", "inherit", "inherit"] });
  }
  console.log(dir);
}
