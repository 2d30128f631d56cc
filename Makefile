# The README's two commands: `make run` and `make test`. Everything they need is installed
# or fetched by the scripts they call (DynamoDB Local is cached outside the repo).

CARGO ?= cargo
DEMO_STORE ?= .ucc/demo
SCENARIO ?= examples/nordlys

.PHONY: run test unit lint fmt bench clean-demo

## run: replay the bundled Nordlys scenario on a fresh local store and print the report
run:
	rm -rf $(DEMO_STORE)
	$(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) run-scenario $(SCENARIO)
	@echo
	@echo "Inspect it: cargo run -q -p ucc -- --store $(DEMO_STORE) drivers list --tenant 7080010002488"

## test: formatting, lints, then every test against the embedded store AND DynamoDB Local
test: lint
	scripts/with-dynamodb-local.sh $(CARGO) test --workspace

## unit: tests without DynamoDB Local (its tests are skipped with a notice)
unit:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: criterion benchmarks (figures go to BENCHMARKS.md)
bench:
	$(CARGO) bench -p ucc-shared

clean-demo:
	rm -rf $(DEMO_STORE)
