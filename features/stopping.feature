Feature: Stopping a transaction
  The card that started a transaction stops it without an Authorize (OCPP 1.6 §3.4, §3.10); a card
  with the same parent id tag may stop it too, after an Authorize that reveals the parent; an
  unrelated card does not. The stop button, a remote stop, a reset and, when
  StopTransactionOnEVSideDisconnect is true, unplugging each stop it with their own reason (§7.36).
  A transaction that started online and is stopped offline is reported after the reconnect with
  the online transactionId and the time of the swipe.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   | parent  |
      | 04A1B2C3 | Accepted | FLEET-7 |
      | 04A1B2C4 | Accepted | FLEET-7 |
      | 04B0B0B0 | Accepted |         |
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: The same card stops the transaction without an Authorize
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 5 seconds
    And the central system has received exactly 1 Authorize
    And the last StopTransaction has id tag "04A1B2C3"
    And every transaction is reported exactly once

  Scenario: A card with the same parent id tag stops the transaction
    When the card "04A1B2C4" is presented
    Then the central system receives an Authorize for "04A1B2C4" within 5 seconds
    And charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 5 seconds
    And the last StopTransaction has id tag "04A1B2C4"
    And every transaction is reported exactly once

  Scenario: An unrelated card does not stop the transaction
    When the card "04B0B0B0" is presented
    Then charging continues for 5 seconds
    And the central system has received exactly 0 StopTransaction

  Scenario: The stop button stops the transaction
    When the stop button is pressed
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 5 seconds
    And every transaction is reported exactly once

  Scenario: A remote stop stops the transaction
    When the central system remote-stops the transaction
    Then the charger answers "Accepted"
    And charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Remote" within 5 seconds
    And every transaction is reported exactly once

  Scenario Outline: A <kind> reset stops the transaction with reason <reason>
    When the central system sends a "<kind>" reset
    Then the charger answers "Accepted"
    And charging stops within 10 seconds
    And the central system receives a StopTransaction with reason "<reason>" within 30 seconds
    And every transaction is reported exactly once

    Examples:
      | kind | reason    |
      | Soft | SoftReset |
      | Hard | HardReset |

  Scenario: Unplugging stops the transaction when StopTransactionOnEVSideDisconnect is true
    When the central system changes "StopTransactionOnEVSideDisconnect" to "true"
    Then the charger answers "Accepted"
    When the EV is unplugged
    Then charging stops within 2 seconds
    And the central system receives a StopTransaction with reason "EVDisconnected" within 5 seconds
    And every transaction is reported exactly once

  @network
  Scenario: A transaction started online and stopped offline keeps its id and the swipe time
    Then the charger's queue is empty within 5 seconds
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 3 seconds pass
    And the network is restored
    Then the central system receives a StopTransaction with reason "Local" within 30 seconds
    And the last StopTransaction carries transaction id 1
    And the StopTransaction carries the time the transaction ended, not the time it was sent
    And the central system has received exactly 1 Authorize
    And the central system receives a StatusNotification "Finishing" within 10 seconds
    And every transaction is reported exactly once
