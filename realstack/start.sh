#!/bin/bash
# Start a real OpenStack control plane (Keystone, Glance, Placement, Neutron
# ML2, Nova api/conductor/scheduler and RS_COMPUTE_HOSTS (default 3)
# nova-compute hosts with the fake virt driver, Cinder api/scheduler/volume
# with the fake volume driver, RabbitMQ) on 127.0.0.1, bootstrap it and write
# clouds.yaml.
#
# usage: ./start.sh [VENV]        (default VENV: $REALSTACK_HOME/venv, i.e. <repo>/.realstack/venv)
# Every start is a fresh cloud: data/ (databases, images, rabbit) and etc/
# are recreated.  (Restarting on old data is not supported: the fake virt
# driver keeps its "VMs" in memory only, and nova-compute refuses to start
# again on a host whose node identity file it never wrote.)
#
# Waits are on conditions with generous deadlines (a busy 2-core machine can be
# many times slower than usual), never fixed sleeps; RS_WAIT_SCALE (default 1)
# multiplies every deadline.
set -euo pipefail

BASE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
. "$BASE/lib/common.sh"
# Generated state (venv, config, databases, logs, pids, clouds.yaml) lives in
# $REALSTACK_HOME, by default <repo>/.realstack (gitignored).
STATE=${REALSTACK_HOME:-$(dirname "$BASE")/.realstack}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
VENV=${1:-${VENV:-$STATE/venv}}
VENV=$(cd "$VENV" && pwd)
ETC=$STATE/etc
DATA=$STATE/data
LOGS=$STATE/logs
RUN=$STATE/run
PIDFILE=$RUN/pids
BIN=$VENV/bin
HOST=127.0.0.1

KS_PORT=5000 GLANCE_PORT=9292 PLACEMENT_PORT=8778 NOVA_PORT=8774
NEUTRON_PORT=9696 CINDER_PORT=8776 RABBIT_PORT=5672 RABBIT_DIST_PORT=25672 DB_PORT=3306
# Fake compute hosts: realstack-compute, realstack-compute-2, ... (one nova-compute
# process each), so that anti-affinity and resize between hosts can be exercised.
COMPUTE_HOSTS=${RS_COMPUTE_HOSTS:-3}
case $COMPUTE_HOSTS in [1-9]) ;; *) echo "RS_COMPUTE_HOSTS must be 1-9, not '$COMPUTE_HOSTS'" >&2; exit 1 ;; esac
compute_host() { if [ "$1" = 1 ]; then echo realstack-compute; else echo "realstack-compute-$1"; fi; }
compute_proc() { if [ "$1" = 1 ]; then echo nova-compute; else echo "nova-compute-$1"; fi; }

ADMIN_PASSWORD=${RS_ADMIN_PASSWORD:-admin-secret}
SERVICE_PASSWORD=${RS_SERVICE_PASSWORD:-service-secret}
DEMO_PASSWORD=${RS_DEMO_PASSWORD:-demo-secret}
DB_PASSWORD=${RS_DB_PASSWORD:-db-secret}
DATABASES="keystone glance placement neutron nova_api nova_cell0 nova_cell1 cinder"
db() { echo "mysql+pymysql://openstack:$DB_PASSWORD@$HOST:$DB_PORT/$1?charset=utf8"; }
TRANSPORT_URL="rabbit://guest:guest@$HOST:$RABBIT_PORT/"
KS_URL="http://$HOST:$KS_PORT"

T0=$(date +%s.%N)
log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
SCALE=${RS_WAIT_SCALE:-1}
secs() { echo $(( $1 * SCALE )); }  # a deadline in seconds, scaled

if [ -s "$PIDFILE" ]; then
    running=0
    while read -r name pid; do alive "$pid" && running=1; done < "$PIDFILE"
    if [ $running = 1 ]; then
        echo "realstack already running (see $PIDFILE); run $BASE/stop.sh first" >&2
        exit 1
    fi
    rm -f "$PIDFILE"
fi

# data/ is about to be removed: nothing may still be writing there. A MariaDB of an
# earlier run (its pid file is ours; it may have outlived a stop that gave up, or a
# start that was killed) is stopped and waited for; anything else still using data/
# (say, a service of a stop still in progress) is waited for, and named if it stays.
if [ -s "$RUN/mysqld.pid" ]; then
    old=$(cat "$RUN/mysqld.pid")
    if alive "$old" && tr '\0' ' ' < "/proc/$old/cmdline" 2>/dev/null | grep -qF "$ETC/mysql/my.cnf"; then
        echo "a mariadbd of an earlier run ($old) still uses $DATA/mysql: stopping it" >&2
        kill -TERM "$old" 2>/dev/null || true
        if ! wait_gone "$(secs 120)" "$old" >/dev/null; then
            echo "mariadbd ($old) still running after $(secs 120)s, sending SIGKILL" >&2
            kill -KILL "$old" 2>/dev/null || true
            wait_gone "$(secs 60)" "$old" >/dev/null \
                || { echo "mariadbd ($old) survived SIGKILL; not touching $DATA" >&2; exit 1; }
        fi
    fi
fi
deadline=$((SECONDS + $(secs 120)))
while users=$(holders_of "$STATE/data") && [ -n "$users" ]; do
    if [ $SECONDS -ge $deadline ]; then
        echo "these processes still use $STATE/data after $(secs 120)s; stop them first:" >&2
        # shellcheck disable=SC2086
        describe $users >&2
        exit 1
    fi
    sleep 0.5
done
# A service stopped a moment ago may still hold its listening socket.
deadline=$((SECONDS + $(secs 60)))
for p in $KS_PORT $GLANCE_PORT $PLACEMENT_PORT $NOVA_PORT $NEUTRON_PORT $CINDER_PORT $RABBIT_PORT $RABBIT_DIST_PORT $DB_PORT; do
    while ss -ltn "sport = :$p" | grep -q LISTEN; do
        if [ $SECONDS -ge $deadline ]; then
            echo "port $p is already in use on this machine" >&2; exit 1
        fi
        sleep 0.5
    done
done

remove_tree "$(secs 60)" "$DATA" "$ETC" "$LOGS"
mkdir -p "$ETC" "$DATA" "$LOGS" "$RUN"
: > "$PIDFILE"
STARTED_OK=0
on_exit() {
    if [ "$STARTED_OK" != 1 ] && [ -s "$PIDFILE" ]; then
        echo "start failed: stopping what was started (logs kept in $LOGS)" >&2
        "$BASE/stop.sh" >&2 || true
    fi
}
trap on_exit EXIT

# Services must not find a ~/.config/openstack/clouds.yaml or OS_* of the
# caller; and none of this traffic may go through a proxy.
unset $(env | grep -o '^OS_[A-Z_]*') 2>/dev/null || true
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY 2>/dev/null || true

start_proc() {  # name cmd...  (backgrounds the command, records its pid)
    local name=$1; shift
    setsid "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
    echo "$name $!" >> "$PIDFILE"
}

recorded_pid() {  # name: the pid start_proc recorded for it
    awk -v n="$1" '$1 == n { print $2 }' "$PIDFILE" | tail -1
}

wait_port() {  # name port [timeout]
    local name=$1 port=$2 deadline=$((SECONDS + $(secs "${3:-180}")))
    until (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timeout waiting for $name on port $port; tail of $LOGS/$name.log:" >&2
            tail -30 "$LOGS/$name.log" >&2; exit 1
        fi
        sleep 0.2
    done
}

wait_http() {  # name url [timeout]   (any HTTP status < 500 counts)
    local name=$1 url=$2 deadline=$((SECONDS + $(secs "${3:-240}"))) code pid
    pid=$(recorded_pid "$name")
    while true; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
        if [ -n "$code" ] && [ "$code" != 000 ] && [ "$code" -lt 500 ]; then return 0; fi
        if [ -n "$pid" ] && ! alive "$pid"; then
            echo "$name (pid $pid) exited before answering at $url; tail of $LOGS/$name.log:" >&2
            tail -40 "$LOGS/$name.log" >&2; exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "timeout waiting for $name at $url (last status $code); tail of $LOGS/$name.log:" >&2
            tail -40 "$LOGS/$name.log" >&2; exit 1
        fi
        sleep 0.5
    done
}

gunicorn_svc() {  # name port app threads
    local name=$1 port=$2 app=$3 threads=${4:-8}
    start_proc "$name" env OS_KEYSTONE_CONFIG_DIR="$ETC/keystone" \
        OS_GLANCE_CONFIG_DIR="$ETC/glance" OS_PLACEMENT_CONFIG_DIR="$ETC/placement" \
        OS_NOVA_CONFIG_DIR="$ETC/nova" OS_NEUTRON_CONFIG_DIR="$ETC/neutron" \
        OS_CINDER_CONFIG_DIR="$ETC/cinder" \
        "$BIN/gunicorn" --pythonpath "$BASE/wsgi" --bind "$HOST:$port" \
        --workers 1 --worker-class gthread --threads "$threads" --timeout 300 \
        --graceful-timeout 5 --keep-alive 0 --access-logfile - --name "realstack-$name" \
        "realstack_wsgi:$app"
}

authtoken() {  # user
cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
username = $1
password = $SERVICE_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
service_token_roles_required = true
EOF
}

ksa() {  # section user   (keystoneauth options of a service-to-service client)
cat <<EOF
[$1]
auth_type = password
auth_url = $KS_URL
username = $2
password = $SERVICE_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
valid_interfaces = public
EOF
}

###########################################################################
log "writing configuration to $ETC"
mkdir -p "$ETC"/{keystone,glance,placement,nova,neutron/plugins/ml2,cinder} \
         "$DATA"/{keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,nova/instances,neutron,locks,rabbitmq/mnesia,rabbitmq/log,mysql} \
         "$DATA"/cinder/conversion
chmod 700 "$DATA/keystone/fernet-keys" "$DATA/keystone/credential-keys"

cat > "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
debug = false
[database]
connection = $(db keystone)
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $DATA/keystone/fernet-keys
[fernet_receipts]
key_repository = $DATA/keystone/fernet-keys
[credential]
key_repository = $DATA/keystone/credential-keys
[cache]
enabled = false
[identity]
# bcrypt cost 4 instead of 12: every password authentication (each CLI call,
# each service token) gets ~0.2 s cheaper; this is a throw-away test cloud.
password_hash_rounds = 4
EOF

cat > "$ETC/placement/placement.conf" <<EOF
[DEFAULT]
debug = false
[placement_database]
connection = $(db placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOF

cp "$VENV/etc/glance/glance-api-paste.ini" "$ETC/glance/"
cat > "$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
debug = false
enabled_backends = fs:file
worker_self_reference_url = http://$HOST:$GLANCE_PORT
public_endpoint = http://$HOST:$GLANCE_PORT
[database]
connection = $(db glance)
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $DATA/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $DATA/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $DATA/glance/tasks/
[paste_deploy]
flavor = keystone
config_file = $ETC/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $DATA/locks
$(authtoken glance)
EOF

cp "$VENV/etc/neutron/api-paste.ini" "$ETC/neutron/"
cat > "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
debug = false
core_plugin = ml2
# router: Neutron's L3 plugin (routers, external gateways, floating IPs) at the
# DB/API level. No L3 agent runs: routers stay unscheduled and floating IPs DOWN.
service_plugins = router
auth_strategy = keystone
transport_url = $TRANSPORT_URL
api_paste_config = $ETC/neutron/api-paste.ini
state_path = $DATA/neutron
host = realstack
notify_nova_on_port_status_changes = false
# Data changes (floating IP associated/disassociated, port deleted) are sent to
# nova-api as external events, as in any production cloud: nova then refreshes
# its network info cache, so a floating IP shows in the server's addresses.
notify_nova_on_port_data_changes = true
dhcp_agent_notification = false
allow_overlapping_ips = true
[database]
connection = $(db neutron)
[oslo_concurrency]
lock_path = $DATA/locks
[agent]
root_helper =
[nova]
auth_type = password
auth_url = $KS_URL
username = neutron
password = $SERVICE_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
endpoint_type = public
$(authtoken neutron)
EOF
cat > "$ETC/neutron/plugins/ml2/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = realstack
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
[ml2_type_flat]
flat_networks = public
[securitygroup]
enable_security_group = true
EOF

cp "$VENV/etc/nova/api-paste.ini" "$ETC/nova/"
cat > "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
debug = false
host = realstack-compute
my_ip = $HOST
state_path = $DATA/nova
instances_path = $DATA/nova/instances
compute_driver = fake.FakeDriver
transport_url = $TRANSPORT_URL
enabled_apis = osapi_compute
osapi_compute_workers = 1
metadata_workers = 1
# A resize may pick the server's own host (FakeDriver resizes in place: finish_migration
# spawns it again), so it also works when the other hosts are full. A cold migration
# (same flavor) still never stays: FakeDriver does not report same-host migration.
allow_resize_to_same_host = true
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $(db nova_api)
[database]
connection = $(db nova_cell1)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 2
[oslo_concurrency]
lock_path = $DATA/locks
[vnc]
enabled = false
[spice]
enabled = false
[serial_console]
enabled = false
$(ksa service_user nova)
send_service_user_token = true
$(authtoken nova)
$(ksa placement nova)
$(ksa neutron nova)
[glance]
region_name = RegionOne
valid_interfaces = public
$(ksa cinder nova)
os_region_name = RegionOne
catalog_info = volumev3::publicURL
EOF
# One more nova-compute per extra host: the same nova.conf, then its own host name and
# state (the node identity file, the instances directory).
for i in $(seq 2 "$COMPUTE_HOSTS"); do
    mkdir -p "$DATA/nova-compute-$i/instances"
    cat > "$ETC/nova/compute-$i.conf" <<EOF
[DEFAULT]
host = $(compute_host "$i")
state_path = $DATA/nova-compute-$i
instances_path = $DATA/nova-compute-$i/instances
EOF
done

cp "$VENV/etc/cinder/api-paste.ini" "$VENV/etc/cinder/resource_filters.json" "$ETC/cinder/"
cat > "$ETC/cinder/cinder.conf" <<EOF
[DEFAULT]
debug = false
host = realstack-volume
my_ip = $HOST
state_path = $DATA/cinder
transport_url = $TRANSPORT_URL
auth_strategy = keystone
api_paste_config = $ETC/cinder/api-paste.ini
# The list filters each resource allows (?name=, ?status=, ...); without the file every
# filter is refused with 400 "Invalid filters name are found in query options".
resource_query_filters_file = $ETC/cinder/resource_filters.json
osapi_volume_workers = 1
enabled_backends = fake
default_volume_type = standard
image_conversion_dir = $DATA/cinder/conversion
# Cinder's default quota is 10 volumes per project; declstack's scenarios keep more.
quota_volumes = 50
quota_snapshots = 50
[fake]
# The wheel's cinder.tests.fake_driver.FakeLoggingVolumeDriver, with image clones
# (lib/realstack_volume.py): no storage, no qemu-img, no root helper.
volume_driver = realstack_volume.RealstackFakeVolumeDriver
volume_backend_name = fake
[database]
connection = $(db cinder)
[oslo_concurrency]
lock_path = $DATA/locks
[coordination]
backend_url = file://$DATA/cinder
$(authtoken cinder)
$(ksa nova cinder)
interface = public
$(ksa service_user cinder)
send_service_user_token = true
EOF

###########################################################################
log "starting mariadb"
mkdir -p "$ETC/mysql"
cat > "$ETC/mysql/my.cnf" <<EOF
[mysqld]
user = root
datadir = $DATA/mysql
socket = $RUN/mysqld.sock
pid-file = $RUN/mysqld.pid
bind-address = $HOST
port = $DB_PORT
skip-name-resolve
skip-log-bin
max_connections = 1000
innodb_buffer_pool_size = 128M
innodb_flush_log_at_trx_commit = 2
innodb_doublewrite = 0
character-set-server = utf8mb3
collation-server = utf8mb3_general_ci
log-error = $LOGS/mariadb-error.log
[client]
socket = $RUN/mysqld.sock
EOF
if [ ! -d "$DATA/mysql/mysql" ]; then
    mariadb-install-db --defaults-file="$ETC/mysql/my.cnf" --auth-root-authentication-method=socket \
        --skip-test-db > "$LOGS/mariadb-install-db.log" 2>&1
fi
start_proc mariadb /usr/sbin/mariadbd --defaults-file="$ETC/mysql/my.cnf"

###########################################################################
log "starting rabbitmq"
RD=$DATA/rabbitmq
cat > "$RD/rabbitmq.conf" <<EOF
listeners.tcp.1 = $HOST:$RABBIT_PORT
loopback_users.guest = true
EOF
echo "[]." > "$RD/enabled_plugins"
start_proc rabbitmq env HOME="$RD" RABBITMQ_NODENAME=rabbit@localhost \
    RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=$RABBIT_PORT \
    RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT RABBITMQ_MNESIA_BASE="$RD/mnesia" \
    RABBITMQ_LOG_BASE="$RD/log" RABBITMQ_CONFIG_FILE="$RD/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RD/enabled_plugins" RABBITMQ_PID_FILE="$RD/rabbit.pid" \
    ERL_EPMD_ADDRESS=$HOST \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server

###########################################################################
deadline=$((SECONDS + $(secs 180))) MARIADB_PID=$(recorded_pid mariadb)
until mariadb --defaults-file="$ETC/mysql/my.cnf" -uroot --connect-timeout=10 -e 'select 1' >/dev/null 2>&1; do
    if ! alive "$MARIADB_PID" || [ $SECONDS -ge $deadline ]; then
        echo "mariadb did not start (pid $MARIADB_PID, waited $((SECONDS + $(secs 180) - deadline))s):" >&2
        tail -20 "$LOGS/mariadb-error.log" >&2; exit 1
    fi
    sleep 0.2
done
{
    echo "CREATE USER IF NOT EXISTS 'openstack'@'$HOST' IDENTIFIED BY '$DB_PASSWORD';"
    for d in $DATABASES; do
        echo "CREATE DATABASE IF NOT EXISTS $d CHARACTER SET utf8mb3;"
        echo "GRANT ALL PRIVILEGES ON $d.* TO 'openstack'@'$HOST';"
    done
} | mariadb --defaults-file="$ETC/mysql/my.cnf" -uroot
log "mariadb up: databases $DATABASES"

###########################################################################
log "keystone: db sync + fernet/credential keys + bootstrap"
KM="$BIN/keystone-manage --config-file $ETC/keystone/keystone.conf"
$KM db_sync > "$LOGS/keystone-manage.log" 2>&1
$KM fernet_setup --keystone-user root --keystone-group root >> "$LOGS/keystone-manage.log" 2>&1
$KM credential_setup --keystone-user root --keystone-group root >> "$LOGS/keystone-manage.log" 2>&1
$KM bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$KS_URL/v3" --bootstrap-internal-url "$KS_URL/v3" \
    --bootstrap-public-url "$KS_URL/v3" >> "$LOGS/keystone-manage.log" 2>&1
gunicorn_svc keystone $KS_PORT keystone 16

log "placement/glance/neutron/nova/cinder: db sync"
"$BIN/placement-manage" --config-file "$ETC/placement/placement.conf" db sync > "$LOGS/placement-manage.log" 2>&1
"$BIN/glance-manage" --config-dir "$ETC/glance" db_sync > "$LOGS/glance-manage.log" 2>&1 &
GLANCE_SYNC=$!
"$BIN/neutron-db-manage" --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/plugins/ml2/ml2_conf.ini" upgrade heads > "$LOGS/neutron-db-manage.log" 2>&1 &
NEUTRON_SYNC=$!
NM="$BIN/nova-manage --config-file $ETC/nova/nova.conf"
{
    $NM api_db sync
    $NM cell_v2 map_cell0 --database_connection "$(db nova_cell0)"
    $NM cell_v2 create_cell --name cell1 --verbose || true   # exit 2 = already exists
    $NM db sync
} > "$LOGS/nova-manage.log" 2>&1 &
NOVA_SYNC=$!
"$BIN/cinder-manage" --config-file "$ETC/cinder/cinder.conf" db sync > "$LOGS/cinder-manage.log" 2>&1 &
CINDER_SYNC=$!
wait $GLANCE_SYNC || { echo "glance db_sync failed:"; tail -20 "$LOGS/glance-manage.log"; exit 1; } >&2
wait $NEUTRON_SYNC || { echo "neutron db sync failed:"; tail -20 "$LOGS/neutron-db-manage.log"; exit 1; } >&2
wait $NOVA_SYNC || { echo "nova db sync failed:"; tail -20 "$LOGS/nova-manage.log"; exit 1; } >&2
wait $CINDER_SYNC || { echo "cinder db sync failed:"; tail -20 "$LOGS/cinder-manage.log"; exit 1; } >&2

wait_port rabbitmq $RABBIT_PORT 180
# The API services need their Keystone users only when a request comes in,
# so they boot while the identity bootstrap runs.
log "starting placement, glance, neutron, nova-api, cinder-api"
gunicorn_svc placement $PLACEMENT_PORT placement 8
gunicorn_svc glance $GLANCE_PORT glance 8
gunicorn_svc neutron $NEUTRON_PORT neutron 8
gunicorn_svc nova-api $NOVA_PORT nova 16
gunicorn_svc cinder-api $CINDER_PORT cinder 8

wait_http keystone "$KS_URL/v3"
log "keystone up: creating service users, demo project, service catalog"
RS_KEYSTONE="$KS_URL/v3" RS_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
RS_SERVICE_PASSWORD="$SERVICE_PASSWORD" RS_DEMO_PASSWORD="$DEMO_PASSWORD" \
RS_NOVA_URL="http://$HOST:$NOVA_PORT/v2.1" RS_GLANCE_URL="http://$HOST:$GLANCE_PORT" \
RS_PLACEMENT_URL="http://$HOST:$PLACEMENT_PORT" RS_NEUTRON_URL="http://$HOST:$NEUTRON_PORT" \
RS_CINDER_URL="http://$HOST:$CINDER_PORT/v3" \
    "$BIN/python" "$BASE/lib/bootstrap_identity.py" > "$LOGS/bootstrap.log" 2>&1 \
    || { echo "identity bootstrap failed:" >&2; tail -20 "$LOGS/bootstrap.log" >&2; exit 1; }
# nova-conductor/-scheduler/-compute authenticate to keystone (as user nova)
# while they start, so they need the service users first.
log "starting nova-conductor, nova-scheduler, $COMPUTE_HOSTS nova-compute, cinder-scheduler, cinder-volume"
for svc in conductor scheduler; do
    start_proc "nova-$svc" "$BIN/nova-$svc" --config-file "$ETC/nova/nova.conf"
done
start_proc nova-compute "$BIN/nova-compute" --config-file "$ETC/nova/nova.conf"
for i in $(seq 2 "$COMPUTE_HOSTS"); do
    start_proc "$(compute_proc "$i")" "$BIN/nova-compute" --config-file "$ETC/nova/nova.conf" \
        --config-file "$ETC/nova/compute-$i.conf"
done
start_proc cinder-scheduler "$BIN/cinder-scheduler" --config-file "$ETC/cinder/cinder.conf"
start_proc cinder-volume env PYTHONPATH="$BASE/lib" \
    "$BIN/cinder-volume" --config-file "$ETC/cinder/cinder.conf"

wait_http placement "http://$HOST:$PLACEMENT_PORT/"
wait_http glance "http://$HOST:$GLANCE_PORT/versions"
wait_http neutron "http://$HOST:$NEUTRON_PORT/"
wait_http nova-api "http://$HOST:$NOVA_PORT/"
wait_http cinder-api "http://$HOST:$CINDER_PORT/"
log "APIs answer; writing clouds.yaml"

cat > "$STATE/clouds.yaml" <<EOF
# Written by $BASE/start.sh.  Use with:
#   export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml
# or copy the entries into ~/.config/openstack/clouds.yaml
clouds:
  realstack:
    auth:
      auth_url: $KS_URL/v3
      username: demo
      password: $DEMO_PASSWORD
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  realstack-admin:
    auth:
      auth_url: $KS_URL/v3
      username: admin
      password: $ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF

log "waiting for $COMPUTE_HOSTS nova-compute and cinder-volume to register; creating flavors, image, networks, router, volume type"
RS_COMPUTE_HOSTS=$COMPUTE_HOSTS REALSTACK_HOME="$STATE" OS_CLIENT_CONFIG_FILE="$STATE/clouds.yaml" "$BIN/python" "$BASE/lib/bootstrap_resources.py" \
    > "$LOGS/bootstrap-resources.log" 2>&1 \
    || { echo "resource bootstrap failed:" >&2; tail -30 "$LOGS/bootstrap-resources.log" >&2; exit 1; }
cat "$LOGS/bootstrap-resources.log"

STARTED_OK=1
log "realstack is up"
cat <<EOF

  Keystone   $KS_URL/v3
  Nova       http://$HOST:$NOVA_PORT/v2.1   (fake virt driver, hosts: $(for i in $(seq 1 "$COMPUTE_HOSTS"); do compute_host "$i"; done | paste -sd, -))
  Cinder     http://$HOST:$CINDER_PORT/v3     (fake volume driver, host realstack-volume@fake, type 'standard')
  Glance     http://$HOST:$GLANCE_PORT
  Neutron    http://$HOST:$NEUTRON_PORT     (ML2, agent-less 'realstack' mech driver; L3 router plugin)
  Placement  http://$HOST:$PLACEMENT_PORT
  MariaDB    $HOST:$DB_PORT (user openstack / $DB_PASSWORD)   RabbitMQ $HOST:$RABBIT_PORT
  PIDs: $PIDFILE     logs: $LOGS

  export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml
  $BIN/openstack --os-cloud realstack token issue
  $BIN/openstack --os-cloud realstack server create --image cirros --flavor m1.tiny \\
      --network private --key-name mykey --wait demo1
  (cloud 'realstack' = user demo/project demo; 'realstack-admin' = admin/admin)
  Stop with: $BASE/stop.sh
EOF
