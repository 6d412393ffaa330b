// An app written for eureka-js-client, from its README, moved by changing one import:
//   - import Eureka from 'eureka-js-client';
//   + import Eureka from 'karyon-ts/eureka-js-client';
// Only the server's address comes from the environment here (EUREKA_HOST, EUREKA_PORT), so a test can point
// it at a server of its own. Run with `npx tsx examples/eureka-js-client/app.ts` beside `npx karyon registry`.
import Eureka from 'karyon-ts/eureka-js-client';

// example configuration
const client = new Eureka({
  // application instance information
  instance: {
    app: 'jqservice',
    hostName: 'localhost',
    ipAddr: '127.0.0.1',
    port: 8080,
    vipAddress: 'jq.test.something.com',
    dataCenterInfo: {
      name: 'MyOwn',
    },
  },
  eureka: {
    // eureka server host / port
    host: process.env.EUREKA_HOST ?? '127.0.0.1',
    port: Number(process.env.EUREKA_PORT ?? 8761),
  },
});

client.on('registered', () => console.log('event: registered'));
client.on('deregistered', () => console.log('event: deregistered'));

client.start(function (error) {
  console.log(error || 'complete');
  if (error) process.exitCode = 1;
  const instances = client.getInstancesByAppId('JQSERVICE');
  console.log(`instances of JQSERVICE: ${instances.map((i) => `${i.hostName}:${i.port.$} ${i.status}`).join(', ')}`);
  const byVip = client.getInstancesByVipAddress('jq.test.something.com');
  console.log(`instances of jq.test.something.com: ${byVip.length}`);
  client.stop(function (stopError) {
    console.log(stopError || 'stopped');
  });
});
