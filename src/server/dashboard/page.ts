export const DASHBOARD_HTML = "<!doctype html><title>keybridge</title>";
