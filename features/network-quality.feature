Feature: Slow and flapping links
  Chargers on cellular links meet links that are slow or come and go. A slow link within the
  message timeout is still online: cards are authorized by the central system and nothing is
  decided offline. A link that flaps loses nothing: what happens while it is down is decided
  offline, queued, and delivered once, in order, when it is back. These faults are made by the
  proxy gate (steps beyond steps.md, listed by `rig steps`); a kernel gate without netem cannot
  make them, so they are not tagged @network.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the configuration key "AllowOfflineTxForUnknownId" is "true"

  Scenario: On a slow link within the message timeout a card is authorized online
    Given the charger is online
    When the network to the central system has 1000 ms of latency
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    Then the central system receives an Authorize for "04A1B2C3" within 10 seconds
    When the EV asks for charge
    Then charging starts within 10 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 10 seconds
    And the charger is back online within 1 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 10 seconds
    And the central system receives a StopTransaction with reason "Local" within 10 seconds
    When the network is restored
    Then every transaction is reported exactly once

  @slow
  Scenario: A session on a flapping link is decided offline, queued and reported once
    Given the charger is online
    When the network to the central system flaps every 10 seconds
    Then the charger reports being offline within 10 seconds
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 10 seconds
    When 8 seconds pass
    And the card "04A1B2C3" is presented
    Then charging stops within 10 seconds
    When the network is restored
    Then the central system receives a StartTransaction for "04A1B2C3" within 30 seconds
    And the central system receives a StopTransaction with reason "Local" within 30 seconds
    And every transaction is reported exactly once
