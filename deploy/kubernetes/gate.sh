#!/bin/sh
# Waits until the merge Job ends, complete or failed (not only complete: a failed verdict
# must not wait out the timeout), prints its verdict, and exits with perfgate's own exit
# code: 0 passed, 1 failed or inconclusive, 2 perfgate could not judge, 3 interrupted.
# Exits 2 when the Job has not ended after TIMEOUT seconds or left no exit code.
#
#   deploy/kubernetes/gate.sh [TIMEOUT]     (seconds, default 3600; kubectl's context)
set -eu
timeout=${1:-3600}
job=${PERFGATE_MERGE_JOB:-perfgate-merge}
every=${PERFGATE_POLL_SECONDS:-5}
waited=0
while :; do
  # Kubernetes 1.30 and later add SuccessCriteriaMet and FailureTarget before these.
  ended=$(kubectl get "job/$job" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}')
  case " $ended " in
    *" Complete "* | *" Failed "*) break ;;
  esac
  if [ "$waited" -ge "$timeout" ]; then
    echo "gate.sh: job/$job has not ended after ${timeout}s" >&2
    exit 2
  fi
  sleep "$every"
  waited=$((waited + every))
done
kubectl logs "job/$job" -c perfgate || true
code=$(kubectl get pods -l "job-name=$job" \
  -o 'jsonpath={.items[*].status.containerStatuses[?(@.name=="perfgate")].state.terminated.exitCode}')
case "$code" in
  "" | *[!0-9\ ]*)
    echo "gate.sh: job/$job ended ($ended) without perfgate's exit code: see kubectl describe job/$job" >&2
    exit 2
    ;;
esac
# The last pod's code (backoffLimit is 0: there is one).
set -- $code
for c; do last=$c; done
exit "$last"
