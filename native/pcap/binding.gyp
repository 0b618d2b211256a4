{
  "targets": [
    {
      "target_name": "vantage_pcap",
      "sources": ["src/vantage_pcap.c", "src/quic_initial.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpcap"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "vxlan_send",
      "type": "executable",
      "sources": ["src/vxlan_send.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
