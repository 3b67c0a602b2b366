# deployer — common tasks. `make test` is what CI runs (via .ci/run).
.PHONY: demo test lint fmt bench build dist install

build:
	cargo build --release -p deployer-cli

# The binary the release archives and the npm packages carry (LTO, stripped; slower to build).
dist:
	cargo build --profile dist --locked -p deployer-cli

install:
	cargo install --locked --path crates/cli

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

# Unused dependencies: cargo-machete, pinned (installed on first use).
MACHETE_VERSION := 0.9.2

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test -p deployer-ops --test module_graph
	@cargo machete --version 2>/dev/null | grep -qx '$(MACHETE_VERSION)' \
		|| cargo install cargo-machete --version $(MACHETE_VERSION) --locked
	cargo machete

fmt:
	cargo fmt --all

bench:
	cargo bench -p deployer-cli
