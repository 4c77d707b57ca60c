import { createRequire } from "node:module";
import type { FastifyServerOptions } from "fastify";

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;
type ValidatorFactory = NonNullable<CompilersFactory["buildValidator"]>;
type SerializerFactory = NonNullable<CompilersFactory["buildSerializer"]>;
type ValidatorCompiler = ReturnType<ValidatorFactory>;
type Validator = ReturnType<ValidatorCompiler>;
type RouteSchema = Parameters<ValidatorCompiler>[0];

/**
 * fastify's own compilers (ajv for validation, fast-json-stringify for serialization), resolved from
 * fastify's install so they are exactly the versions fastify would pick by itself.
 */
const fromFastify = createRequire(createRequire(import.meta.url).resolve("fastify"));
const defaultValidatorFactory = () => (fromFastify("@fastify/ajv-compiler") as () => ValidatorFactory)();
const defaultSerializerFactory = () =>
  (fromFastify("@fastify/fast-json-stringify-compiler") as () => SerializerFactory)();

/**
 * fastify's default compilers, deferred: ajv is loaded and a route's schema compiled on the route's
 * first request (or by `warm`), not while the daemon starts: loading ajv and compiling every route
 * is a large share of the daemon's time to ready (`ready_ms_100k`). Validation itself is unchanged:
 * the same ajv, options and error objects.
 */
export class LazyCompilers {
  private readonly pending: (() => void)[] = [];

  readonly factory: CompilersFactory = {
    buildValidator: ((externalSchemas, options) => {
      let compiler: ValidatorCompiler | undefined;
      const compile = (routeSchema: RouteSchema) => {
        compiler ??= defaultValidatorFactory()(externalSchemas, options);
        return compiler(routeSchema);
      };
      return (routeSchema: RouteSchema) => this.deferred(() => compile(routeSchema));
    }) as ValidatorFactory,
    // No route has a response schema today; kept lazy so a future one does not load fast-json-stringify at start.
    buildSerializer: ((externalSchemas, options) =>
      defaultSerializerFactory()(externalSchemas, options)) as SerializerFactory,
  };

  /** Validators not compiled yet. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Compiles one pending validator; false when none is left. */
  compileNext(): boolean {
    const next = this.pending.shift();
    next?.();
    return next !== undefined;
  }

  private deferred(compile: () => Validator): Validator {
    let real: Validator | undefined;
    const ensure = (): Validator => {
      real ??= compile();
      return real;
    };
    const lazy = ((data: unknown, dataContext?: unknown) => {
      const validator = ensure() as (data: unknown, dataContext?: unknown) => ReturnType<Validator>;
      const result = validator(data, dataContext);
      lazy.errors = (validator as Validator).errors ?? null;
      return result;
    }) as Validator;
    // fastify hands ajv validators the request as parent data (so `useDefaults` can fill a missing
    // root value) only when the function carries `schemaEnv`, as every ajv validator does.
    Object.defineProperty(lazy, "schemaEnv", { value: true });
    this.pending.push(() => {
      ensure();
    });
    return lazy;
  }
}
