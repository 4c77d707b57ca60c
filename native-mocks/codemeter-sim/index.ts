export * from "./files.js";
export * from "./registry-tree.js";
export * from "./simulated-server.js";
