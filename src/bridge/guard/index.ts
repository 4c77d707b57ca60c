export { LicenseGuard, LicenseUpdateBlockedError, type LicenseUpdateObserver } from "./license-guard.js";
export { validateLicenses } from "./license-input.js";
export { MigrationService } from "./migrate.js";
export { guardedPreflight, type PreflightSources } from "./preflight.js";
export { type RegistryHealth, RiskEngine, type RiskEngineInputs, type RiskEngineOptions } from "./risk-engine.js";
