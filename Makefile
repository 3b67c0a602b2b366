# deployer — common tasks. `make test` is what CI runs (via .ci/run).
.PHONY: demo test lint fmt bench build install

build:
	cargo build --release -p deployer-cli

install:
	cargo install --locked --path crates/cli

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench:
	cargo bench -p deployer-cli
