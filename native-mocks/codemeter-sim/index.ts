export * from "./files.js";
export * from "./simulated-server.js";
