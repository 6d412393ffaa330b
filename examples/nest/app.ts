// The quotes service as a Nest application: a controller, a provider calling the pricing service through an
// injected client (a command with a fallback), and a catalog loaded at start, checked for health and released
// at stop. Nothing registers these methods by hand: KaryonModule finds them through Nest's discovery.
import { Controller, Get, Injectable, Module, NotFoundException, Param } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { Service, command, healthCheck, initialize, onShutdown } from 'karyon-ts';
import type { CounterHandle, HealthResult, Metrics, ServiceClient } from 'karyon-ts';
import { InjectMetrics, InjectServiceClient, KaryonModule } from 'karyon-ts/nest';
import type { KaryonModuleOptions } from 'karyon-ts/nest';

@Injectable()
export class Catalog {
  #items: Map<string, string> | undefined;

  @initialize({ timeoutMs: 5000 })
  async load(signal: AbortSignal): Promise<void> {
    // Stands in for reading a database: the instance stays STARTING until this resolves.
    await new Promise((resolve) => setTimeout(resolve, 100));
    signal.throwIfAborted();
    this.#items = new Map([
      ['apple', 'Apple'],
      ['pear', 'Pear'],
    ]);
  }

  @healthCheck('catalog')
  loaded(): HealthResult {
    return { status: this.#items?.size ? 'UP' : 'DOWN', details: { items: this.#items?.size ?? 0 } };
  }

  @onShutdown()
  release(): void {
    console.log(`catalog: releasing ${this.#items?.size ?? 0} items`);
    this.#items = undefined;
  }

  name(id: string): string | undefined {
    return this.#items?.get(id);
  }
}

@Injectable()
export class Prices {
  readonly #pricing: ServiceClient;

  constructor(@InjectServiceClient('pricing') pricing: ServiceClient) {
    this.#pricing = pricing;
  }

  // Through a breaker, bulkhead and timeout, with a fallback when pricing is down or slow.
  @command({ timeoutMs: 1000, fallback: 'unknown' })
  async price(id: string): Promise<number | null> {
    const res = await this.#pricing.request({ path: `/price/${encodeURIComponent(id)}` });
    return ((await res.body.json()) as { price: number }).price;
  }

  unknown(): null {
    return null;
  }
}

@Controller('quote')
export class QuotesController {
  readonly #catalog: Catalog;
  readonly #prices: Prices;
  readonly #service: Service;
  readonly #served: CounterHandle;

  // Nest injects by the parameters' types (emitDecoratorMetadata), and by token where a decorator says so.
  constructor(catalog: Catalog, prices: Prices, service: Service, @InjectMetrics() metrics: Metrics) {
    this.#catalog = catalog;
    this.#prices = prices;
    this.#service = service;
    this.#served = metrics.counter('quotes_served_total');
  }

  @Get(':id')
  async quote(@Param('id') id: string): Promise<{ item: string; price: number | null; by: string }> {
    const item = this.#catalog.name(id);
    if (item === undefined) throw new NotFoundException(`no item ${id}`);
    this.#served.increment();
    return { item, price: await this.#prices.price(id), by: this.#service.instanceId ?? '?' };
  }
}

/** The application's root module, with the service's options (registry, ports) from main.ts. */
@Module({})
export class AppModule {
  static with(options: KaryonModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [KaryonModule.forRoot({ clients: ['pricing'], ...options })],
      controllers: [QuotesController],
      providers: [Catalog, Prices],
    };
  }
}
