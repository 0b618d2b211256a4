'use strict';
// The compiled binding. Loading fails (MODULE_NOT_FOUND) when the install step could not build
// it; Vantage catches that and says what to install.
module.exports = require('./build/Release/vantage_pcap.node');
