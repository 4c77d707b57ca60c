import { firstUnsafeCharacter, unsafeTextReason } from "../protocol/index.js";
import { RequestValidationError } from "./errors.js";

interface AjvError {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

const PART_NAMES: Readonly<Record<string, string>> = {
  body: "body",
  querystring: "query parameter",
  params: "path parameter",
  headers: "header",
};

/**
 * Turns fastify's first ajv error into `client: required field is missing (body)`. `input` is the
 * request part that failed (body, query, params): a string refused for an unsafe character is
 * told which one and where.
 */
export function validationError(
  errors: readonly AjvError[],
  context: string | undefined,
  input?: unknown,
): RequestValidationError {
  const first = errors[0] ?? {};
  const path = (first.instancePath ?? "")
    .split("/")
    .filter((segment) => segment !== "")
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`))
    .join("")
    .replace(/^\./, "");
  const params = first.params ?? {};
  const part = PART_NAMES[context ?? "body"] ?? context ?? "body";
  let field = path;
  let reason: string;
  switch (first.keyword) {
    case "required":
      field = join(path, String(params.missingProperty));
      reason = "required field is missing";
      break;
    case "additionalProperties":
      field = join(path, String(params.additionalProperty));
      reason = "unknown field";
      break;
    case "type":
      reason = `expected ${article(String(params.type))}`;
      break;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
    case "minLength":
    case "maxLength":
    case "minItems":
    case "maxItems":
      reason = first.message ?? "out of range";
      break;
    case "pattern": {
      const value = valueAt(input, first.instancePath ?? "");
      const unsafe = typeof value === "string" ? firstUnsafeCharacter(value) : undefined;
      reason = unsafe === undefined ? "has the wrong format" : unsafeTextReason(unsafe);
      break;
    }
    case "anyOf":
    case "enum":
    case "const":
      reason = "is not one of the allowed values";
      break;
    default:
      reason = first.message ?? "is invalid";
  }
  const name = field === "" ? part : field;
  return new RequestValidationError(`${name}: ${reason} (${part})`, name);
}

/** The value at an ajv instance path (`/licenses/0/product`) in `input`. */
function valueAt(input: unknown, pointer: string): unknown {
  let value = input;
  for (const segment of pointer.split("/").slice(1)) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return value;
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

function article(type: string): string {
  if (type === "integer") return "an integer";
  if (type === "object") return "an object";
  if (type === "array") return "an array";
  return `a ${type}`;
}
