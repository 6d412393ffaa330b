// What the fragments of README.md and docs/ use without defining: a user's own application objects, typed as a
// user's project would have them. test/unit/docs-snippets.test.ts imports from here (and from the package)
// each name a fragment uses and does not declare itself.
import type { ChildProcess } from 'node:child_process';
import type { RequestListener, Server } from 'node:http';
import type { Express } from 'express';
import type { FastifyInstance } from 'fastify';
import type { CommandRegistry, ConfigSource, DynamicConfig, EurekaRegistry, Logger, Metrics, Service, ServiceClient } from 'karyon-ts';
import type { RouteTarget } from 'karyon-ts/extend';

export { createServer } from 'node:http';

export interface User {
  readonly id: string;
  readonly name: string;
}
export interface Order {
  readonly total: number;
}

export declare const service: Service;
export declare const server: Server;
export declare const handler: RequestListener;
export declare const app: Express;
export declare const fastify: FastifyInstance;
export declare const registry: EurekaRegistry;
export declare const admin: RouteTarget;
export declare const metrics: Metrics;
export declare const logger: Logger;
export declare const log: Logger;
export declare const db: { ping(): Promise<boolean>; close(): void };
export declare function warmCaches(signal: AbortSignal): Promise<void>;
export declare const cache: Map<string, unknown>;
export declare const commands: CommandRegistry;
export declare const url: string;
export declare const users: { get(id: string): Promise<User> };
export declare const GUEST: User;
export declare function fetchUser(id: string): Promise<User>;
export declare const greeter: ServiceClient;
export declare const schema: { readonly feature: { readonly enabled: { readonly doc: string; readonly format: BooleanConstructor; readonly default: boolean } } };
export declare const sources: readonly ConfigSource[];
export declare const health: { readonly ready: boolean };
export declare function subscribeToReadiness(listener: (healthy: boolean) => void): () => void;
export declare const config: DynamicConfig<{ app: { port: number }; features: { x: boolean } }>;
export declare const child: ChildProcess;
export declare const balancer: { setRule(rule: string): void };
export declare function render(): Promise<string>;
export declare const queue: readonly unknown[];
export declare const greeterToken: string;
export declare const billingToken: string;
export declare function priceOrder(body: unknown): Promise<Order>;
export declare const payments: { charge(order: Order): Promise<void> };
export declare const port: number;
export declare function Fastify(): FastifyInstance;
export declare const quotesClient: ServiceClient;
export declare function pingQuotes(): Promise<boolean>;
