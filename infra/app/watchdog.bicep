// The watchdog's watchdog: Azure Monitor watches the app's own telemetry and emails the on-call addresses through an
// action group of its own, so a stopped or broken app is told even when it cannot send mail itself (ACS down, the
// identity's email role gone, the host not starting at all).
//
// The Functions host writes one `requests` row per invocation into Application Insights, named after the function,
// with `success` false when the invocation raised. The app raises on purpose when a run is not clean (a vault
// unreadable, an email not sent, a summary not sent: backup_events.errors.RunFailedError), so:
//   - no successful poll: fewer than one successful poll_backup_jobs invocation in the last hour. Fires when the app is
//     stopped, cannot start, has no telemetry, its timer never fires, or every poll fails;
//   - failed invocations: at least one invocation of any function failed in the last 15 minutes.
// Both are stateful (autoMitigate): one email when the condition starts, one when it resolves, never one per run.
param applicationInsightsName string
param actionGroupName string
param noPollAlertName string
param failedRunsAlertName string
param location string
param tags object

@description('Comma-separated on-call addresses (the app\'s recipients): the action group emails each one.')
param recipients string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource onCall 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'bkp-oncall'
    enabled: true
    emailReceivers: [
      for (address, i) in split(recipients, ','): {
        name: 'oncall-${i}'
        emailAddress: trim(address)
        useCommonAlertSchema: true
      }
    ]
  }
}

resource noSuccessfulPoll 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: noPollAlertName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'backup-events: no successful poll for 1 hour'
    description: 'No poll_backup_jobs invocation succeeded in the last hour: backup failures may not be told. Check the function app (stopped? failing? see its failed invocations) and the blind-spot emails.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'requests | where name == "poll_backup_jobs" and success == true'
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        onCall.id
      ]
    }
  }
}

resource failedRuns 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: failedRunsAlertName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'backup-events: failed invocations'
    description: 'An invocation of backup-events failed in the last 15 minutes (a vault unreadable, an email or the daily summary not sent, a setting missing). Its exception in Application Insights says which.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        onCall.id
      ]
    }
  }
}

output actionGroupId string = onCall.id
output noPollAlertId string = noSuccessfulPoll.id
output failedRunsAlertId string = failedRuns.id
