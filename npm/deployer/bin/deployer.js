#!/usr/bin/env node
// The `deployer` command of the npm package: runs the prebuilt binary that the platform
// package (an optional dependency chosen by npm from its os/cpu fields) carries. Arguments,
// stdio, the exit code and signals pass through; nothing is downloaded at install or run time.
"use strict";

const { spawn } = require("node:child_process");

const PLATFORMS = {
  "linux x64": "@deployer-rs/deployer-linux-x64",
  "linux arm64": "@deployer-rs/deployer-linux-arm64",
  "darwin x64": "@deployer-rs/deployer-darwin-x64",
  "darwin arm64": "@deployer-rs/deployer-darwin-arm64",
};

const FROM_SOURCE =
  "cargo install --locked --git https://github.com/deployer-rs/deployer deployer-cli";

function fail(message) {
  process.stderr.write(`deployer: ${message}\n`);
  process.exit(1);
}

// The binary: DEPLOYER_BINARY_PATH when set (a binary built elsewhere), else the platform package's.
function binaryPath() {
  if (process.env.DEPLOYER_BINARY_PATH) {
    return process.env.DEPLOYER_BINARY_PATH;
  }
  const platform = `${process.platform} ${process.arch}`;
  const pkg = PLATFORMS[platform];
  if (!pkg) {
    fail(`no prebuilt binary for ${platform}; build it from source: ${FROM_SOURCE}`);
  }
  try {
    return require.resolve(`${pkg}/bin/deployer`);
  } catch {
    fail(
      `${pkg}, the package with the binary for ${platform}, is not installed. It is an ` +
        `optional dependency of @deployer-rs/deployer: reinstall without --omit=optional ` +
        `(or --no-optional), or set DEPLOYER_BINARY_PATH to a deployer binary.`,
    );
  }
}

const binary = binaryPath();
const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });

// A signal sent to this process goes to deployer too (a terminal's Ctrl-C reaches both: the
// commands that handle it stop on the first, so a second copy changes nothing).
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
const forward = (signal) => child.kill(signal);
for (const signal of FORWARDED) {
  process.on(signal, forward);
}

child.on("error", (err) => fail(`cannot run ${binary}: ${err.message}`));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so that the caller sees what deployer saw.
    for (const s of FORWARDED) {
      process.removeListener(s, forward);
    }
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
