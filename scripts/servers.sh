#!/usr/bin/env bash
# Starts, stops and restarts the real servers the tests use, each on 127.0.0.1 with its own data under
# $OSLO_TEST_STATE (default /var/tmp/oslo-rs-tests), never the system's own instances.
#
#   scripts/servers.sh start   [postgres|mysql|rabbit|redis ...]   start (no-op for one already running)
#   scripts/servers.sh stop    [names ...]                         stop
#   scripts/servers.sh restart [names ...]                         stop, then start (the fault tests use this)
#   scripts/servers.sh status  [names ...]                         exit 0 when every one named is running
#   scripts/servers.sh env                                         print the OSLO_TEST_* variables to export
#
# Must run as root (it drops to each server's own system user). Ports: PostgreSQL 55432, MariaDB 53306,
# RabbitMQ 5682 and 5681 over TLS (distribution 25682), Redis 56379. The test user everywhere is `oslo` /
# `oslo-secret`. RabbitMQ's TLS listener wants a client certificate; `rabbit_tls_files` makes (once) a CA,
# a server certificate for `localhost` only, a client certificate and a second, unrelated CA under
# $OSLO_TEST_STATE/rabbit/tls, and `env` names them (OSLO_TEST_RABBIT_TLS_*). The client certificate's common
# name, `oslo-client`, is a user for EXTERNAL logins.
set -euo pipefail

STATE=${OSLO_TEST_STATE:-/var/tmp/oslo-rs-tests}
PG_PORT=55432
MY_PORT=53306
RABBIT_PORT=5682
RABBIT_TLS_PORT=5681
REDIS_PORT=56379
USER_NAME=oslo
USER_PASS=oslo-secret
ALL=(postgres mysql rabbit redis)

log() { printf 'servers: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

wait_for() { # seconds, description, command...
  local secs=$1 what=$2; shift 2
  local i
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not come up within ${secs}s"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- PostgreSQL -------------------------------------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }
pg_dir() { echo "$STATE/postgres"; }
postgres_running() { [ -f "$(pg_dir)/data/postmaster.pid" ] && runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1; }
postgres_start() {
  local dir bin
  dir=$(pg_dir) bin=$(pg_bin)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir" && mkdir -p "$dir" && chown postgres: "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --auth-local=trust \
      --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || die "initdb failed: see $dir/initdb.log"
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $dir -c max_connections=200" start >/dev/null \
    || die "PostgreSQL did not start: see $dir/server.log"
  runuser -u postgres -- psql -h "$dir" -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -q >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
    CREATE ROLE $USER_NAME LOGIN SUPERUSER PASSWORD '$USER_PASS';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE oslo_test OWNER $USER_NAME' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'oslo_test')\gexec
SQL
}
postgres_stop() { runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$(pg_dir)/data" -m fast -w stop >/dev/null 2>&1 || true; }

# --- MariaDB ----------------------------------------------------------------------------------------------
my_dir() { echo "$STATE/mysql"; }
mysql_running() { pid_alive "$(my_dir)/mariadb.pid" && mariadb-admin --socket="$(my_dir)/mysqld.sock" -u root ping >/dev/null 2>&1; }
mysql_start() {
  local dir
  dir=$(my_dir)
  if [ ! -d "$dir/data/mysql" ]; then
    rm -rf "$dir" && mkdir -p "$dir" && chown mysql: "$dir"
    mariadb-install-db --user=mysql --datadir="$dir/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$dir/install.log" 2>&1 || die "mariadb-install-db failed: see $dir/install.log"
  fi
  setsid nohup mariadbd --user=mysql --datadir="$dir/data" --socket="$dir/mysqld.sock" --port=$MY_PORT \
    --bind-address=127.0.0.1 --pid-file="$dir/mariadb.pid" --log-error="$dir/server.log" \
    --skip-name-resolve --max-connections=300 --innodb-lock-wait-timeout=20 >/dev/null 2>&1 </dev/null &
  wait_for 60 "MariaDB" mariadb-admin --socket="$dir/mysqld.sock" -u root ping
  mariadb --socket="$dir/mysqld.sock" -u root <<SQL
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$USER_PASS';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$USER_PASS';
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS oslo_test CHARACTER SET utf8mb4;
SQL
}
mysql_stop() {
  local dir pid
  dir=$(my_dir)
  if pid_alive "$dir/mariadb.pid"; then
    pid=$(cat "$dir/mariadb.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
}

# --- RabbitMQ ---------------------------------------------------------------------------------------------
rb_dir() { echo "$STATE/rabbit"; }
rabbit_env() {
  local dir
  dir=$(rb_dir)
  echo HOME="$dir" RABBITMQ_NODENAME=oslo-test@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$RABBIT_PORT RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbit.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
}
rabbitmqctl_() { # shellcheck disable=SC2046
  runuser -u rabbitmq -- env $(rabbit_env) /usr/lib/rabbitmq/bin/rabbitmqctl "$@"; }
# Running, and with the TLS listener (a broker started by an older version of this script has none).
rabbit_running() {
  pid_alive "$(rb_dir)/rabbit.pid" && rabbitmqctl_ -q status >/dev/null 2>&1 \
    && (exec 3<>/dev/tcp/127.0.0.1/$RABBIT_TLS_PORT) 2>/dev/null
}
# The TLS material, made once: a CA, a server certificate (SAN `localhost` only, so that connecting to
# 127.0.0.1 with hostname checking fails), a client certificate, and a second CA that signed neither.
rabbit_tls_files() {
  local tls=$1
  [ -f "$tls/done" ] || rabbit_tls_make "$tls"
  # Applied every time (for files made before): the CAs' signing keys go once the certificates are signed,
  # the other keys are readable by their owner only (the broker's by rabbitmq, see rabbit_start).
  rm -f "$tls/ca.key" "$tls/other-ca.key"
  chmod 644 "$tls"/*.pem
  chmod 600 "$tls"/*.key
}
rabbit_tls_make() {
  local tls=$1
  rm -rf "$tls" && mkdir -p "$tls"
  (
    cd "$tls"
    for ca in ca other-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=oslo-rs test $ca" \
        -keyout "$ca.key" -out "$ca.pem"
    done
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr
    printf 'subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
    openssl req -newkey rsa:2048 -nodes -subj /CN=oslo-client -keyout client.key -out client.csr
    printf 'extendedKeyUsage = clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out client.pem
  ) >"$tls.log" 2>&1 || die "making the RabbitMQ TLS files failed: see $tls.log"
  touch "$tls/done"
}
rabbit_start() {
  local dir
  dir=$(rb_dir)
  # One started without the TLS listener is restarted with it.
  pid_alive "$dir/rabbit.pid" && rabbit_stop
  mkdir -p "$dir/log" "$dir/mnesia"
  rabbit_tls_files "$dir/tls"
  # EXTERNAL login (the user named by the TLS client certificate's common name, `oslo-client`).
  echo '[rabbitmq_auth_mechanism_ssl].' >"$dir/enabled_plugins"
  # Erlang distribution (the server's and rabbitmqctl's) on loopback only, like the AMQP listener.
  printf '%s\n' 'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' \
    'CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' >"$dir/rabbitmq-env.conf"
  echo '[].' >"$dir/advanced.config"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' $RABBIT_PORT >"$dir/rabbitmq.conf"
  cat >>"$dir/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$RABBIT_TLS_PORT
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
CONF
  chown -R rabbitmq: "$dir"
  # The client's key is the tests' (this script's user), not the broker's.
  chown "$(id -u):$(id -g)" "$dir/tls/client.key"
  # shellcheck disable=SC2046
  setsid nohup runuser -u rabbitmq -- env $(rabbit_env) /usr/lib/rabbitmq/bin/rabbitmq-server \
    >"$dir/server.out" 2>&1 </dev/null &
  wait_for 120 "RabbitMQ" rabbitmqctl_ -q await_startup
  # The user list is read whole first: `grep -q` stops reading at the first match, and under pipefail the
  # writer's broken pipe would make a present user look absent.
  local users
  users=$(rabbitmqctl_ -q list_users)
  grep -q "^$USER_NAME\b" <<<"$users" || rabbitmqctl_ -q add_user "$USER_NAME" "$USER_PASS" >/dev/null
  rabbitmqctl_ -q set_permissions -p / "$USER_NAME" '.*' '.*' '.*' >/dev/null
  # The client certificate's user, for EXTERNAL logins: no password.
  if ! grep -q '^oslo-client\b' <<<"$users"; then
    rabbitmqctl_ -q add_user oslo-client "$(head -c 24 /dev/urandom | base64)" >/dev/null
    rabbitmqctl_ -q clear_password oslo-client >/dev/null
  fi
  rabbitmqctl_ -q set_permissions -p / oslo-client '.*' '.*' '.*' >/dev/null
}
rabbit_stop() {
  local dir pid
  dir=$(rb_dir)
  if pid_alive "$dir/rabbit.pid"; then
    pid=$(cat "$dir/rabbit.pid")
    rabbitmqctl_ -q stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
}

# --- Redis ------------------------------------------------------------------------------------------------
rd_dir() { echo "$STATE/redis"; }
redis_running() { pid_alive "$(rd_dir)/redis.pid"; }
redis_start() {
  local dir
  dir=$(rd_dir)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port $REDIS_PORT --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/server.log" --dir "$dir" --save '' --appendonly no >/dev/null
  wait_for 30 "Redis" redis-cli -p $REDIS_PORT ping
}
redis_stop() {
  if redis_running; then redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || kill "$(cat "$(rd_dir)/redis.pid")"; fi
  for _ in $(seq 1 40); do redis_running || break; sleep 0.25; done
}

print_env() {
  cat <<ENV
export OSLO_TEST_POSTGRES_URL=postgresql://$USER_NAME:$USER_PASS@127.0.0.1:$PG_PORT/oslo_test
export OSLO_TEST_MYSQL_URL=mysql://$USER_NAME:$USER_PASS@127.0.0.1:$MY_PORT/oslo_test
export OSLO_TEST_RABBIT_URL=rabbit://$USER_NAME:$USER_PASS@127.0.0.1:$RABBIT_PORT/
export OSLO_TEST_RABBIT_TLS_URL=rabbit://$USER_NAME:$USER_PASS@localhost:$RABBIT_TLS_PORT/
export OSLO_TEST_RABBIT_TLS_CA=$(rb_dir)/tls/ca.pem
export OSLO_TEST_RABBIT_TLS_CERT=$(rb_dir)/tls/client.pem
export OSLO_TEST_RABBIT_TLS_KEY=$(rb_dir)/tls/client.key
export OSLO_TEST_RABBIT_TLS_OTHER_CA=$(rb_dir)/tls/other-ca.pem
export OSLO_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export OSLO_TEST_SERVERS=$(cd "$(dirname "$0")" && pwd)/servers.sh
ENV
}

[ $# -ge 1 ] || die "usage: servers.sh start|stop|restart|status|env [postgres|mysql|rabbit|redis ...]"
cmd=$1; shift
names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
[ "$cmd" = env ] && { print_env; exit 0; }
[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$STATE" && chmod 755 "$STATE"
for n in "${names[@]}"; do
  case $n in postgres | mysql | rabbit | redis) ;; *) die "unknown server \`$n\`" ;; esac
  case $cmd in
    start) if ${n}_running; then log "$n already running"; else log "starting $n"; ${n}_start; fi ;;
    stop) log "stopping $n"; ${n}_stop ;;
    restart) log "restarting $n"; ${n}_stop; ${n}_start ;;
    status) ${n}_running || { log "$n is not running"; exit 1; } ;;
    *) die "unknown command \`$cmd\`" ;;
  esac
done
