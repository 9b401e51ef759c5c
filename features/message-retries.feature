Feature: Delivery attempts of transaction messages
  On a live connection a transaction message answered with a CallError, or not answered within
  MessageTimeout, is a failed attempt (OCPP 1.6 §3.7.1, §9.1.31, §9.1.32, errata E-3.82).
  Before attempt n+1 the charger waits TransactionMessageRetryInterval × n; after
  TransactionMessageAttempts failures it drops the message. A transaction whose StartTransaction
  was dropped is stopped with transactionId -1. A message that finally succeeds is delivered once,
  never twice.

  Background:
    Given the central system knows these id tags:
      | id tag   | status   |
      | 04A1B2C3 | Accepted |
    And the configuration key "TransactionMessageAttempts" is "3"
    And the configuration key "TransactionMessageRetryInterval" is "2"

  Scenario: A refused StartTransaction is retried with growing intervals, then dropped
    Given the charger is online
    When the central system answers StartTransaction with a CallError
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 10 seconds pass
    Then the central system received the StartTransaction attempts "2, 4" seconds apart
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 10 seconds
    And the last StopTransaction carries transaction id -1
    And every transaction is reported exactly once

  Scenario: A StartTransaction that succeeds on its last attempt is not duplicated
    Given the configuration key "TransactionMessageAttempts" is "5"
    And the configuration key "TransactionMessageRetryInterval" is "1"
    And the charger is online
    When the central system answers StartTransaction with a CallError 4 times
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 12 seconds pass
    Then the central system has received exactly 5 StartTransaction
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 10 seconds
    And every transaction is reported exactly once

  Scenario: A refused StopTransaction is retried and delivered once
    Given the charger is online
    When the central system answers StopTransaction with a CallError 1 times
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 5 seconds pass
    Then the central system has received exactly 2 StopTransaction
    And every transaction is reported exactly once

  @slow
  Scenario: Unanswered StartTransactions count as failed attempts until the message is dropped
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the charger is online
    When the central system stops answering
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 25 seconds
    When 30 seconds pass
    And the central system answers again
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    And the central system receives a StopTransaction with reason "Local" within 15 seconds
    And the last StopTransaction carries transaction id -1
    And the central system has received exactly 0 StartTransaction

  Scenario: A refused StartTransaction is attempted exactly TransactionMessageAttempts times
    Given the charger is online
    When the central system answers StartTransaction with a CallError
    And the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 20 seconds pass
    Then the central system has received exactly 3 StartTransaction
    When the card "04A1B2C3" is presented
    Then the central system receives a StopTransaction with reason "Local" within 10 seconds
    And every transaction is reported exactly once

  # MinimumStatusDuration 30 holds back the Finishing StatusNotification, so the StopTransaction
  # is the request in flight when the link drops.
  @slow @network
  Scenario: A message in flight when the link drops does not lose a delivery attempt
    Given the configuration key "TransactionMessageAttempts" is "1"
    And the configuration key "MinimumStatusDuration" is "30"
    And the charger is online
    When the EV is plugged in
    And the card "04A1B2C3" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    And the central system receives a StartTransaction for "04A1B2C3" within 5 seconds
    And the charger's queue is empty within 5 seconds
    When the central system stops answering
    And the card "04A1B2C3" is presented
    Then charging stops within 5 seconds
    When 1 seconds pass
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the central system answers again
    And the network is restored
    Then the charger is back online within 30 seconds
    When 5 seconds pass
    Then the central system has received exactly 1 StopTransaction
    And every transaction is reported exactly once
