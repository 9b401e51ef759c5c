@panel
Feature: The installer's configuration panel
  The white paper this charger comes from has the installer switch AllowOfflineTxForUnknownId "in
  the OCPP configuration settings in the configuration panel" (its Fig. 1), so that a driver whose
  card the charger has never seen can still charge while the central system is unreachable. The
  panel is the charger's own web page (field.md, "The installer's configuration panel"): a change
  made there is checked and stored exactly like a ChangeConfiguration from the central system
  (OCPP 1.6 §5.3, §9.1), a refused value is shown next to its field and changes nothing, and only
  the installer's password opens it. It also switches between RFID and free charge, and clears the
  authorization cache (§3.5.1, §5.4).

  Card 04FACE01 is a visitor's card this charger has never seen; 04BAD001 was refused once.

  Background:
    Given the charger uses RFID authorization
    And the central system knows these id tags:
      | id tag   | status   |
      | 04FACE01 | Accepted |
      | 04BAD001 | Invalid  |

  Scenario: The installer allows unknown cards on the panel, and a visitor charges through a network cut
    Given the charger is online
    Then the configuration panel shows "AllowOfflineTxForUnknownId" as "false"
    And the configuration panel shows the charger online
    When the installer sets "AllowOfflineTxForUnknownId" to "true" on the configuration panel
    Then the configuration panel shows "AllowOfflineTxForUnknownId" as "true"
    When the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    And the configuration panel shows the charger offline
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When 3 seconds pass
    And the card "04FACE01" is presented
    Then charging stops within 5 seconds
    When the network is restored
    Then the central system receives these transaction messages in order:
      | message          | id tag   | reason |
      | StartTransaction | 04FACE01 |        |
      | StopTransaction  |          | Local  |
    And the configuration panel shows the charger online
    And every transaction is reported exactly once

  Scenario: Without the panel's change the visitor's card is refused offline
    Given the charger is online
    When the network to the central system is cut
    Then the charger reports being offline within 15 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  Scenario Outline: A refused value is shown next to its field and changes nothing
    Given the charger is online
    When the installer tries to set "<key>" to "<value>" on the configuration panel
    Then the configuration panel shows an error for "<key>"
    And the configuration panel shows "<key>" as "<unchanged>"

    Examples:
      | key                        | value       | unchanged                     |
      | AllowOfflineTxForUnknownId | maybe       | false                         |
      | MeterValueSampleInterval   | soon        | 0                             |
      | ConnectionTimeOut          | -5          | 60                            |
      | MeterValuesSampledData     | Temperature | Energy.Active.Import.Register |
      | NumberOfConnectors         | 2           | 1                             |

  Scenario: A refused value leaves the offline rules as they were
    Given the charger is online
    When the installer tries to set "AllowOfflineTxForUnknownId" to "yes please" on the configuration panel
    Then the configuration panel shows an error for "AllowOfflineTxForUnknownId"
    When the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04FACE01" is presented
    And the EV asks for charge
    Then charging does not start within 5 seconds

  Scenario: A wrong password opens nothing
    Given the charger is online
    Then the configuration panel refuses the password "not-the-installer-password"
    When the installer sets "LocalPreAuthorize" to "true" on the configuration panel
    Then the configuration panel shows "LocalPreAuthorize" as "true"

  Scenario: The AuthorizationKey is shown only as set or not set
    Given the charger is online
    Then the configuration panel shows "AuthorizationKey" as "not set"
    When the installer sets "AuthorizationKey" to "3031323334353637383930313233343536373839" on the configuration panel
    Then the configuration panel shows "AuthorizationKey" as "set"
    And the charger never reveals the AuthorizationKey

  Scenario: Clearing the authorization cache on the panel forgets a refused card
    Given the configuration key "AllowOfflineTxForUnknownId" is "true"
    And the card "04BAD001" was rejected online
    When the installer clears the authorization cache on the configuration panel
    And the connection to the central system is refused
    Then the charger reports being offline within 5 seconds
    When the EV is plugged in
    And the card "04BAD001" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: Free charge mode set on the panel starts a transaction on plug-in
    Given the charger's serial number is "CR-PANEL-0007"
    And the central system knows these id tags:
      | id tag        | status   |
      | CR-PANEL-0007 | Accepted |
    And the charger is online
    When the installer sets the authorization mode to free on the configuration panel
    And the EV is plugged in
    Then the central system receives a StartTransaction for "CR-PANEL-0007" within 10 seconds
    When the EV asks for charge
    Then charging starts within 5 seconds

  Scenario: Back to RFID on the panel, plugging in alone starts nothing
    Given the charger is in free charge mode
    And the charger is online
    When the installer sets the authorization mode to rfid on the configuration panel
    And the EV is plugged in
    Then the central system receives no StartTransaction for 5 seconds
    When the card "04FACE01" is presented
    Then the central system receives a StartTransaction for "04FACE01" within 10 seconds
