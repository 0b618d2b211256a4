{
  "targets": [
    {
      "target_name": "vantage_pcap",
      "sources": ["src/vantage_pcap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpcap"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
