#!/usr/bin/env bash
# ThreadSanitizer over kube-grpc's concurrent core (or the targets given):
#   tools/tsan/test.sh [bazel test flags] [targets]
# Builds the instrumented abseil first (tools/tsan/build_absl.sh, idempotent),
# then runs `bazel test --config=tsan` with the suppressions file, whose every
# entry says why it is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/tsan/build_absl.sh
args=("$@")
have_target=0
for a in "${args[@]}"; do
  case "$a" in //*|:*) have_target=1 ;; esac
done
if [ "$have_target" -eq 0 ]; then
  # Discovery, registry, pool, picker and balancer, with fakes and with real gRPC and HTTP.
  args+=(//kubegrpc:discovery_test //kubegrpc:channel_pool_test //kubegrpc:balancer_test
         //kubegrpc:service_registry_test //testing:fake_k8s_client_test
         //kubegrpc:http_k8s_client_test //kubegrpc:balancer_e2e_test
         //kubegrpc:fault_matrix_api_test //kubegrpc:fault_matrix_pods_test
         //testing:scenario_test //kubegrpc:outlier_e2e_test //kubegrpc:subchannel_test
         //kubegrpc:metrics_test //kubegrpc:channel_pool_zone_test //kubegrpc:zone_e2e_test
         //kubegrpc/xds:ads_server_test //kubegrpc/xds:xds_e2e_test)
fi
exec bazel test --config=tsan \
  --test_env=TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 ignore_noninstrumented_modules=1 suppressions=$PWD/tools/tsan/suppressions.txt" \
  "${args[@]}"
