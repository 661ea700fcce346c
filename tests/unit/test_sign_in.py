"""What a failed sign-in says: the credential chain's report, read into one line of what was tried and why.

The report is built from azure-identity's own messages (the constants of the installed package, and the chain's
layout as 1.27 prints it), so a change in the SDK's wording shows here."""

from __future__ import annotations

from azure.identity._credentials import azd_cli, azure_cli, azure_powershell

from backup_events.adapters.azure_sign_in import sign_in_error, tried


def report(*attempts: tuple[str, str]) -> str:
    lines = "\n".join(f"\t{name}: {answer}" for name, answer in attempts)
    return (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n"
        f"{lines}\nTo mitigate this issue, please refer to the troubleshooting guidelines here at "
        "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
    )


DEVELOPER_MACHINE = report(
    (
        "EnvironmentCredential",
        "EnvironmentCredential authentication unavailable. Environment variables are not fully configured.",
    ),
    ("ManagedIdentityCredential", "ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint."),
    ("AzureCliCredential", azure_cli.NOT_LOGGED_IN),
    ("AzurePowerShellCredential", azure_powershell.POWERSHELL_NOT_INSTALLED),
    ("AzureDeveloperCliCredential", azd_cli.CLI_NOT_FOUND),
)


def test_each_credential_tried_is_named_in_plain_words_with_why_it_failed() -> None:
    assert tried(DEVELOPER_MACHINE) == [
        "environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET): not set up",
        "managed identity: not set up",
        "Azure CLI: not signed in",
        "Azure PowerShell: not installed",
        "Azure Developer CLI: not installed",
    ]


def test_the_error_is_one_line_with_the_ways_to_sign_in() -> None:
    message = str(sign_in_error(DEVELOPER_MACHINE, {}))
    assert "\n" not in message
    assert message.startswith("no Azure sign-in worked (tried environment variables")
    assert message.endswith(
        "Fix: sign in with `az login` (or `azd auth login`) and run again; in Azure, give the app a managed identity "
        "and set AZURE_CLIENT_ID to its client id."
    )
    assert "IDENTITY_ENDPOINT" not in message


def test_a_claimed_managed_identity_is_said_to_stop_the_chain() -> None:
    chain = report(
        (
            "ManagedIdentityCredential",
            "HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new connection: [Errno 111] Connection refused",
        )
    )
    message = str(sign_in_error(chain, {"IDENTITY_ENDPOINT": "http://127.0.0.1:9/"}))
    assert "managed identity: connection refused" in message
    assert "unset IDENTITY_ENDPOINT and IDENTITY_HEADER to use your own sign-in" in message


def test_a_report_in_another_shape_still_gives_one_short_line() -> None:
    message = str(sign_in_error("Something else entirely went wrong. With more detail after it.", {}))
    assert message.startswith("no Azure sign-in worked (tried Something else entirely went wrong.)")
