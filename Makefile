# The README's two commands: `make run` and `make test`. Everything they need is installed
# or fetched by the scripts they call (DynamoDB Local is cached outside the repo).

CARGO ?= cargo
DEMO_STORE ?= .ucc/demo
SCENARIO ?= examples/nordlys

.PHONY: run test unit lint fmt bench clean-demo

# The example tenants' secret references; the local UC/Entra stand-in accepts this value.
DEMO_SECRET ?= demo-secret-not-a-real-one

## run: replay the bundled scenario (contract events, sessions, a credit) on a fresh local
## store, delivering over real HTTP to a local Utility Cloud + Entra stand-in
run:
	rm -rf $(DEMO_STORE)
	UCC_SECRET_NORDLYS=$(DEMO_SECRET) UCC_SECRET_SVEA=$(DEMO_SECRET) \
	  $(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) run-scenario $(SCENARIO) --uc-standin
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
