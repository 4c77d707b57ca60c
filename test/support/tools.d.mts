export declare const REQUIRE_TOOLS_VARIABLE: string;
export declare function toolsRequired(): boolean;
export declare function toolMissing(tool: string, probeArgs?: string[]): string | undefined;
export declare function missingToolError(what: string, reason: string): Error;
