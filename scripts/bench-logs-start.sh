#!/usr/bin/env bash
# Logs that start at the end: a service with 3 tasks whose CloudWatch streams
# hold LINES lines each (default 1,000,000), tailed through the realism layer
# (scripts/aws-realism.py in front of moto: LATENCY_MS a call, default 40):
#
#   * the dashboard opened at the service in tmux (120x40): `l` on it, until
#     the newest line of the streams is on screen; then `g` (to the oldest line
#     held), until the 1,000 lines before it of each stream are in the pane;
#   * `wharf logs --service S` (log_lines = 1000): until its first line, and whole;
#   * beside the AWS CLI v1 reading the same newest 1,000 of each stream
#     (`aws logs get-log-events --no-start-from-head --limit 1000`, per stream).
#
# Needs a release build (cargo build --release) and scripts/test.sh's .venv;
# installs the AWS CLI v1 into target/bench-venv when missing, and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${LINES:-1000000}
latency=${LATENCY_MS:-40}
. scripts/bench-aws.sh
bench_start wharf-bench-logs
start_layer "$upstream" "$work/realism.log" --latency-ms "$latency"
endpoint=$LAYER_URL
echo "realism layer: $(sed -n 2p "$work/realism.log")"
echo "3 tasks, $lines lines in each one's stream"

.venv/bin/python - "$upstream" "$lines" >"$work/streams" <<'PY'
import sys, time, boto3
url, lines = sys.argv[1], int(sys.argv[2])
ec2 = boto3.client("ec2", endpoint_url=url)
vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]["GroupId"]
ecs, logs = boto3.client("ecs", endpoint_url=url), boto3.client("logs", endpoint_url=url)
logs.create_log_group(logGroupName="/bench")
ecs.create_cluster(clusterName="bench")
td = ecs.register_task_definition(family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
    containerDefinitions=[{"name": "api", "image": "api:1", "memory": 512, "essential": True, "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "/bench", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}}}])
net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
ecs.create_service(cluster="bench", serviceName="api", taskDefinition="api:1", desiredCount=0, launchType="FARGATE", networkConfiguration=net)
now = int(time.time() * 1000) - lines
for t in range(3):
    task = ecs.run_task(cluster="bench", taskDefinition="api:1", launchType="FARGATE", networkConfiguration=net, count=1)["tasks"][0]
    stream = f"ecs/api/{task['taskArn'].rsplit('/', 1)[1]}"
    logs.create_log_stream(logGroupName="/bench", logStreamName=stream)
    for start in range(0, lines, 10000):
        events = [{"timestamp": now + i, "message": f"task {t} line {i:07d}"} for i in range(start, min(lines, start + 10000))]
        logs.put_log_events(logGroupName="/bench", logStreamName=stream, logEvents=events)
    print(stream)
PY
newest=$(printf 'line %07d' $((lines - 1)))

home=$work/home
mkdir -p "$home"
cat >"$home/wharf.toml" <<TOML
default_profile = "bench"
[profiles.bench]
endpoint_url = "$endpoint"
region = "eu-west-1"
cluster = "bench"
service = "api"
[profiles.cli]
endpoint_url = "$endpoint"
region = "eu-west-1"
cluster = "bench"
service = "api"
log_lines = 1000
TOML
export XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state XDG_CACHE_HOME=$home/cache

dashboard() {
  python3 - "$wharf" "$home" "$newest" <<'PY'
import subprocess, sys, time
wharf, home, newest = sys.argv[1:4]
session = "wharf-bench-logs"
def screen():
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", home,
                f"env XDG_CONFIG_HOME={home}/config XDG_STATE_HOME={home}/state XDG_CACHE_HOME={home}/cache {wharf}"], check=True)
deadline = time.monotonic() + 30
while "api" not in screen() or "loading" in screen():  # the ECS pane at the service, its tasks listed
    if time.monotonic() > deadline:
        break
    time.sleep(0.05)
subprocess.run(["tmux", "send-keys", "-t", session, "3"])
time.sleep(0.3)
subprocess.run(["tmux", "send-keys", "-t", session, "Escape"])
time.sleep(0.3)
start = time.monotonic()
subprocess.run(["tmux", "send-keys", "-t", session, "l"])
shown = None
while time.monotonic() - start < 60:
    if newest in screen():
        shown = time.monotonic() - start
        break
    time.sleep(0.02)
# Then to the oldest line held: the 1,000 before it of each stream come in.
older = None
if shown is not None:
    start = time.monotonic()
    subprocess.run(["tmux", "send-keys", "-t", session, "g"])
    while time.monotonic() - start < 60:
        if "6,000 lines" in screen():
            older = time.monotonic() - start
            break
        time.sleep(0.02)
subprocess.run(["tmux", "kill-session", "-t", session])
print("nan" if shown is None else f"{shown:.2f}", "nan" if older is None else f"{older:.2f}")
PY
}
cli() {
  python3 - "$wharf" "$endpoint" "$home" <<'PY'
import subprocess, sys, time
wharf, endpoint, home = sys.argv[1:4]
start = time.monotonic()
p = subprocess.Popen([wharf, "--profile", "cli", "logs", "--service", "api"], stdout=subprocess.PIPE, stderr=open("/tmp/bench-logs-cli.err", "w"), cwd=home)
first = None
count = 0
for line in p.stdout:
    count += 1
    if first is None:
        first = time.monotonic() - start
p.wait()
print(f"{first:.2f} {time.monotonic() - start:.2f} {count}")
PY
}
aws_newest() {
  local stream n=0
  while read -r stream; do
    n=$((n + $(target/bench-venv/bin/aws --endpoint-url "$endpoint" logs get-log-events --log-group-name /bench --log-stream-name "$stream" --no-start-from-head --limit 1000 --query 'events[].message' --output text | wc -w)))
  done <"$work/streams"
  echo $((n / 4))
}
now() { date +%s.%N; }
printf '\n| round | dashboard: l until the newest line is on screen (s) | g: 3 x 1,000 older lines in (s) | wharf logs: first line (s) | whole (s) | lines | aws logs get-log-events x3 (s) | lines | ratio (whole) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for round in 1 2; do
  read -r shown older < <(dashboard)
  read -r first whole count < <(cli)
  t0=$(now); n=$(aws_newest); t1=$(now)
  python3 -c "print(f'| $round | $shown | $older | $first | $whole | $count | {$t1 - $t0:.2f} | $n | {$whole / ($t1 - $t0):.3f} |')"
done
