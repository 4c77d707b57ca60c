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

/** Turns fastify's first ajv error into `client: required field is missing (body)`. */
export function validationError(errors: readonly AjvError[], context: string | undefined): RequestValidationError {
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
    case "pattern":
      reason = "has the wrong format";
      break;
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

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

function article(type: string): string {
  if (type === "integer") return "an integer";
  if (type === "object") return "an object";
  if (type === "array") return "an array";
  return `a ${type}`;
}
