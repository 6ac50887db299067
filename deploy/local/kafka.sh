#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft: broker + controller in one JVM) on 127.0.0.1:9092
# and creates the project's topics. Idempotent: a second run only reports that it is running.
# A second, private broker (make chaos restarts its own): SAFECAMPUS_KAFKA_PORT=19092 and another
# SAFECAMPUS_DATA; the controller listens on the next port.
#   kafka.sh [start]   resolve jars once (Maven), format storage once, start, create topics
#   kafka.sh stop      graceful stop, waits for the JVM to exit
#   kafka.sh status    exit 0 when running
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.2.1}"
CACHE="${SAFECAMPUS_CACHE:-$HOME/.cache/safecampus}"
DATA="${SAFECAMPUS_DATA:-$HOME/.local/share/safecampus}"
PARTITIONS="${SAFECAMPUS_PARTITIONS:-2}"
PORT="${SAFECAMPUS_KAFKA_PORT:-9092}"
BOOTSTRAP="127.0.0.1:$PORT"
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
RUN_DIR="$DATA/kafka"
LOG_DIR="$RUN_DIR/data"
PID_FILE="$RUN_DIR/kafka.pid"
LOG_FILE="$RUN_DIR/kafka.log"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
TOPICS=(raw.security raw.bus raw.canteen raw.fire events.security events.bus events.canteen events.fire
        alerts kpis dlq)

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop() {
  if ! running; then echo "kafka: not running"; rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  echo "kafka: stopping pid $pid"
  kill -TERM "$pid"
  # A controlled shutdown flushes logs and writes a clean-shutdown marker; give it up to 60 s.
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then echo "kafka: still alive after 60 s, killing"; kill -KILL "$pid"; fi
  rm -f "$PID_FILE"
  echo "kafka: stopped"
}

resolve_jars() {
  [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] && return 0
  echo "kafka: resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS (once)"
  rm -rf "$LIBS.tmp"
  local out
  if ! out="$(mvn -q -B -f "$HERE/kafka-pom.xml" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" 2>&1)"; then
    echo "$out" >&2; echo "kafka: Maven could not resolve Kafka $KAFKA_VERSION" >&2; exit 1
  fi
  mv "$LIBS.tmp" "$LIBS"  # only a complete folder counts as cached
}

write_config() {
  mkdir -p "$LOG_DIR"
  cat >"$RUN_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((PORT + 1))
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$((PORT + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIR
num.partitions=$PARTITIONS
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=16777216
# Simulated days carry device timestamps from the past: keep by size, never by age, on this dev broker.
log.retention.ms=-1
log.retention.bytes=4294967296
PROPS
  # Root at WARN keeps the log small; the broker's start/stop lines stay visible.
  cat >"$RUN_DIR/log4j2.properties" <<'LOG'
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
logger.server.name=kafka.server.KafkaRaftServer
logger.server.level=INFO
logger.broker.name=kafka.server.BrokerServer
logger.broker.level=INFO
LOG
  printf 'rootLogger.level=OFF\n' >"$RUN_DIR/client-log4j2.properties"
}

start() {
  if running; then echo "kafka: already running (pid $(cat "$PID_FILE"), $BOOTSTRAP)"; return 0; fi
  if port_open "$PORT"; then echo "kafka: something already listens on $BOOTSTRAP; leaving it alone"; return 0; fi
  resolve_jars
  write_config
  if [[ ! -f "$LOG_DIR/meta.properties" ]]; then
    # A KRaft cluster id is 16 random bytes, base64url without padding.
    local cluster_id; cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$RUN_DIR/server.properties" >/dev/null
    echo "kafka: formatted storage in $LOG_DIR (cluster $cluster_id)"
  fi
  nohup "$JAVA" -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" \
      -cp "$LIBS/*" kafka.Kafka "$RUN_DIR/server.properties" >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  echo "kafka: started Kafka $KAFKA_VERSION (pid $!), log $LOG_FILE"
  # Compiled once next to the jars (a source launch would compile it at every start).
  local classes="$CACHE/kafka-$KAFKA_VERSION/classes"
  if [[ ! "$classes/KafkaTopics.class" -nt "$HERE/KafkaTopics.java" ]]; then
    javac -cp "$LIBS/*" -d "$classes" "$HERE/KafkaTopics.java"
  fi
  # The admin client logs every refused connection while the broker boots: silence it.
  if ! "$JAVA" -cp "$classes:$LIBS/*" -Dlog4j2.configurationFile="$RUN_DIR/client-log4j2.properties" \
      KafkaTopics "$BOOTSTRAP" "$PARTITIONS" 90 "${TOPICS[@]}"; then
    echo "kafka: broker did not come up; last log lines:" >&2; tail -20 "$LOG_FILE" >&2; stop; exit 1
  fi
  echo "kafka: ready at $BOOTSTRAP; stop it with: $0 stop"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "kafka: running (pid $(cat "$PID_FILE"))"; else echo "kafka: stopped"; exit 1; fi ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
