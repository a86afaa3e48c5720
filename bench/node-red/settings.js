// Node-RED settings for bench/scale_out.py: the contractor's flow, run headless on loopback.
// Ports, the work directory and the database come from the environment the benchmark sets.
const path = require("path");

module.exports = {
    uiHost: "127.0.0.1",
    uiPort: Number(process.env.NODE_RED_PORT || 1880),
    userDir: process.env.NODE_RED_USER_DIR || path.join(__dirname, ".node-red"),
    flowFile: path.join(__dirname, "flow.json"),
    flowFilePretty: true,
    // node-red-contrib-influxdb is installed next to node-red, in this directory.
    nodesDir: [path.join(__dirname, "node_modules", "node-red-contrib-influxdb")],
    credentialSecret: false,
    httpAdminRoot: "/admin",
    disableEditor: true,
    logging: {
        console: { level: "info", metrics: false, audit: false },
    },
    editorTheme: { projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
};
