"""Linking: which visit, lead, deal and bank payment belong together, and so which channel and campaign
each of them belongs to (docs/linking.md).

The words, one per idea, as the docs and the CLI use them:

* a **link** joins two records — visit → lead (:mod:`.visit_lead`), lead → deal (:mod:`.deals`),
  deal → payment (:mod:`.payments`) — and records how it was made (``link_method``, ``match_method``);
* the **money trail** is every record of a warehouse with its links: :class:`.money_trail.MoneyTrail`,
  built once and read by the metrics, ``kassa money``, the match-quality report and the journeys;
* a **trail** is the part of the money trail through one lead, deal or payment: ``kassa trail ID``,
  :func:`.trail.trail`;
* a visit's **channel** and campaign come from the channel rules (:mod:`.channels`); leads, deals and
  payments inherit them along the links. A **customer** (:mod:`.customers`) is the leads that share a
  cookie, phone or e-mail; **journeys** (:mod:`.journeys`) are a customer's touches before a conversion.

"Chain" is kept for the Markov chain of attribution only; "stitch" is not used.
"""
