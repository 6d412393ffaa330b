import { invalidOption } from '../internal/validate.js';
import type { BalancerRule, BalancerRuleName, RandomSource } from './BalancerRule.js';
import { balancerRuleNames } from './BalancerRule.js';
import { LeastLoadedRule } from './LeastLoadedRule.js';
import { PeakEwmaRule } from './PeakEwmaRule.js';
import { RandomRule } from './RandomRule.js';
import { RoundRobinRule } from './RoundRobinRule.js';
import { WeightedResponseTimeRule } from './WeightedResponseTimeRule.js';
import { ZoneAvoidanceRule } from './ZoneAvoidanceRule.js';

/**
 * A fresh instance of a built-in rule by name, or the given custom rule after checking its shape. Rules keep
 * state (a round-robin position, weight tables), so each client gets its own.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` for an unknown name or something that is not a rule
 */
export function createRule(rule: BalancerRuleName | BalancerRule, random: RandomSource = Math.random): BalancerRule {
  if (typeof rule === 'object' && rule !== null) {
    if (typeof rule.pick !== 'function' || typeof rule.name !== 'string') {
      return invalidOption('balancer', 'a rule name or an object with a name and a pick(candidates, now, avoid) method', rule);
    }
    return rule;
  }
  switch (rule) {
    case 'round-robin':
      return new RoundRobinRule();
    case 'random':
      return new RandomRule(random);
    case 'weighted-response-time':
      return new WeightedResponseTimeRule({ random });
    case 'least-loaded':
      return new LeastLoadedRule(random);
    case 'p2c-ewma':
      return new PeakEwmaRule(random);
    case 'zone-avoidance':
      return new ZoneAvoidanceRule();
    default:
      return invalidOption('balancer', `one of ${balancerRuleNames.map((name) => `'${name}'`).join(', ')} or a rule object`, rule);
  }
}
