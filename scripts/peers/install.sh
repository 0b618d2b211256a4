#!/usr/bin/env bash
# Installs every real peer the tests and benchmarks drive: Debian packages (as root), Apache
# Kafka from Maven Central, and the OASIS/MISP/schemathesis oracles from PyPI in a venv.
# Downloads are cached in $VANTAGE_PEERS (default ~/.cache/vantage-peers), never committed.
# Idempotent: a second run only checks. Tests find the peers through scripts/peers/env.sh
# conventions (test/support/peers.ts).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PEERS=${VANTAGE_PEERS:-$HOME/.cache/vantage-peers}
mkdir -p "$PEERS"

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    tshark tcpdump softflowd nfdump tcpreplay iproute2 chromium \
    libpcap-dev g++ make python3 python3-venv \
    nats-server rsyslog rsyslog-gnutls rsyslog-openssl python3-aiosmtpd openssl freeradius-utils \
    nmap hping3 hydra iodine openssh-server python3-scapy nftables p0f \
    maven openjdk-17-jre-headless clickhouse-server clickhouse-client \
    prometheus influxdb snmpd snmp >/dev/null
fi

# Apache Kafka 4.1 (KRaft) and its dependencies, from Maven Central.
KAFKA=$PEERS/kafka
if [ ! -f "$KAFKA/.done" ]; then
  mkdir -p "$KAFKA"
  cat >"$KAFKA/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>kafka-peer</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>4.1.1</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>4.1.1</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>2.0.16</version></dependency>
  </dependencies></project>
POM
  (cd "$KAFKA" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=libs)
  touch "$KAFKA/.done"
fi

# s3proxy (Apache-2.0), an S3 API over a directory: the object store the data lake is tested on.
S3PROXY=$PEERS/s3proxy
if [ ! -f "$S3PROXY/.done" ]; then
  mkdir -p "$S3PROXY"
  cat >"$S3PROXY/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>s3proxy-peer</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.gaul</groupId><artifactId>s3proxy</artifactId><version>2.6.0</version></dependency>
  </dependencies></project>
POM
  (cd "$S3PROXY" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=libs)
  touch "$S3PROXY/.done"
fi

# PyPI oracles and clients in one venv.
VENV=$PEERS/pyvenv
if [ ! -f "$VENV/.done" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q medallion taxii2-client stix2 stix2-matcher stix2-validator pymisp schemathesis aiosmtpd
  touch "$VENV/.done"
fi
# The generator of the Python API client (test/api/clients.test.ts); added after the venv above.
if [ ! -x "$VENV/bin/openapi-python-client" ]; then
  "$VENV/bin/pip" install -q "openapi-python-client==0.29.1"
fi

# chdb (current ClickHouse in-process): the modern engine the ClickHouse store is tested on
# beside Debian's clickhouse-server 18.16 (scripts/peers/chdb-http.py serves it over HTTP).
"$VENV/bin/python" -c 'import chdb' 2>/dev/null || "$VENV/bin/pip" install -q chdb
echo "peers ready in $PEERS"
