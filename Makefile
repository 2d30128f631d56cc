# The README's two commands: `make run` and `make test`. Everything they need is installed
# or fetched by the scripts they call (DynamoDB Local and Azurite are cached outside the repo).

CARGO ?= cargo
# bash for `set -o pipefail` (a tee must not hide a failing test run).
SHELL := /bin/bash
DEMO_STORE ?= .ucc/demo
SCENARIO ?= examples/nordlys

.PHONY: run test unit lint fmt bench clean-demo package infra-check bench-coldstart chaos soak fuzz

# The example tenants' secret references; the local UC/Entra stand-in accepts this value.
DEMO_SECRET ?= demo-secret-not-a-real-one
# The demo's platform key for the Integrations page (a local demo value, never a real one).
DEMO_ADMIN_KEY ?= demo-platform-key-not-a-real-one-0000
DEMO_PORT ?= 7071

## run: replay the bundled scenario (contract events, sessions, a credit, a Type A → B
## migration) on a fresh local store, delivering over real HTTP to a local Utility Cloud +
## Entra stand-in; then price one session on a spot-price tariff with its per-interval table
run:
	rm -rf $(DEMO_STORE)
	UCC_SECRET_NORDLYS=$(DEMO_SECRET) UCC_SECRET_SVEA=$(DEMO_SECRET) \
	  $(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) run-scenario $(SCENARIO) --uc-standin
	@echo
	@echo "Spot-price tariff (SPEC 13): day-ahead prices of 2026-10-25 (a 100-interval DST day) and"
	@echo "ECB rates imported, then a night session priced at spot + markup, per interval:"
	$(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) spot import $(SCENARIO)/spot/a44-2026-10-25.xml
	$(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) spot rates import $(SCENARIO)/spot/ecb-2026-10-23.xml
	$(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) price --explain \
	  --session $(SCENARIO)/spot/session-eirik-fall-back-night.json \
	  --tenant $(SCENARIO)/spot/tenant-fjordlys-spot.json
	@echo
	@echo "Inspect it: cargo run -q -p ucc -- --store $(DEMO_STORE) drivers list --tenant 7080010002488"
	@echo
	@echo "Open the Integrations page on this demo store:"
	@echo "  UCC_ADMIN_KEY_REF=env:UCC_ADMIN_KEY UCC_ADMIN_KEY=$(DEMO_ADMIN_KEY) \\"
	@echo "  UCC_SECRET_NORDLYS=$(DEMO_SECRET) UCC_SECRET_SVEA=$(DEMO_SECRET) \\"
	@echo "  cargo run -q -p ucc -- --store $(DEMO_STORE) serve --uc-standin --port $(DEMO_PORT)"
	@echo "then open http://127.0.0.1:$(DEMO_PORT)/ and sign in with the platform key $(DEMO_ADMIN_KEY)"
	@echo "or with Nordlys's tenant key (made now for this demo store, shown only here):"
	@$(CARGO) run --quiet -p ucc -- --store $(DEMO_STORE) tenant api-key rotate 7080010002488 2>/dev/null

## test: formatting, lints, infrastructure checks, then every test against the embedded store
## AND DynamoDB Local AND Azurite (Azure Table Storage)
## and the Integrations page in headless Chromium (scripts/chromium.sh installs it), then
## schemathesis checks docs/openapi.json against `ucc serve` (scripts/schemathesis.sh, on the
## ucc binary the workspace tests just built)
test: lint infra-check
	scripts/chromium.sh >/dev/null
	UCC_REQUIRE_BROWSER=1 scripts/with-dynamodb-local.sh scripts/with-azurite.sh scripts/with-moto.sh $(CARGO) test --workspace
	UCC_BIN=target/debug/ucc scripts/schemathesis.sh

## unit: tests without the emulators (their tests are skipped with a notice)
unit:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: measures everything in BENCHMARKS.md and rewrites it: criterion (pricing),
## whole-process pricing beside ocpi-tariffs on the same 20,000 CDRs, the
## end-to-end load run on the embedded store, on DynamoDB Local and on Azure Tables (Azurite),
## artifact sizes and cold start (so it packages every function), the AWS cost model and the
## Azure Table Storage one beside DynamoDB's, the Service Bus pull path (stand-in, 1 and 4
## receive loops) and its always-on schedule's cost. Figures land in target/bench/.
BENCH_DIR = target/bench
bench:
	mkdir -p $(BENCH_DIR)
	scripts/machine-info.sh > $(BENCH_DIR)/machine.txt
	$(CARGO) bench -p ucc-shared --bench pricing -- --warm-up-time 2 --measurement-time 5
	$(CARGO) build --release -p ucc -p ucc-bench
	scripts/price-compare.sh | tee $(BENCH_DIR)/price-compare.json
	target/release/ucc-load --store embedded --out $(BENCH_DIR)/load-embedded.json
	target/release/ucc-load --store embedded --mode servicebus --out $(BENCH_DIR)/load-servicebus.json
	scripts/with-dynamodb-local.sh target/release/ucc-load --store dynamodb --out $(BENCH_DIR)/load-dynamodb.json
	scripts/with-azurite.sh target/release/ucc-load --store azuretable --out $(BENCH_DIR)/load-azuretable.json
	CARGO=$(CARGO) scripts/package.sh | tee $(BENCH_DIR)/package.txt
	CARGO=$(CARGO) scripts/cold-start.sh | tee $(BENCH_DIR)/coldstart.txt
	python3 scripts/bench-report.py $(BENCH_DIR) > BENCHMARKS.md.tmp
	mv BENCHMARKS.md.tmp BENCHMARKS.md
	@echo "bench: BENCHMARKS.md rewritten from $(BENCH_DIR)"

clean-demo:
	rm -rf $(DEMO_STORE)

## chaos: the chaos run at the full size of issue 7 (500 accounting points, 2,000 sessions;
## `make test` runs it at a fifth of that); soak: ten times the full size
chaos:
	mkdir -p $(BENCH_DIR)
	set -o pipefail; UCC_CHAOS_SCALE=1 scripts/with-dynamodb-local.sh scripts/with-azurite.sh $(CARGO) test --release -p ucc-tests --test chaos -- --nocapture 2>&1 | tee $(BENCH_DIR)/chaos.log

## fuzz: each libFuzzer target for FUZZ_SECONDS (default 60); needs `cargo install cargo-fuzz`.
## The sanitizer flags are nightly-only; RUSTC_BOOTSTRAP lets the stable toolchain use them.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= contract_event session_event tariff azure_envelope lambda_event uc_answer
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

soak:
	UCC_CHAOS_SCALE=10 scripts/with-dynamodb-local.sh scripts/with-azurite.sh $(CARGO) test --release -p ucc-tests --test chaos -- --nocapture

## package: release builds of every function: target/lambda/<function>.zip (a Lambda
## `bootstrap` each) and target/azure/functionapp.zip (custom handler); prints their sizes
package:
	CARGO=$(CARGO) scripts/package.sh

## infra-check: terraform fmt -check and checkov (pinned, cached in ~/.cache/ucc) on
## infra/terraform and infra/bicep, and the Service Bus SQL filter against the SPEC
infra-check:
	scripts/infra-check.sh

## bench-coldstart: time from process start to first response of each packaged bootstrap
## against a local Lambda Runtime API stand-in (run `make package` first)
bench-coldstart:
	scripts/cold-start.sh
