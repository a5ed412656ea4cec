"""CloudFormation types template.yaml uses that moto's CloudFormation does not build.

moto emulates Cognito user pools and API Gateway authorizers through their own APIs, but its
CloudFormation has no model for AWS::Cognito::UserPool, UserPoolClient, UserPoolGroup or
AWS::ApiGateway::Authorizer, and its AWS::ApiGateway::Method drops AuthorizerId. A stack using
them fails on moto (a `!GetAtt OrdersUserPool.Arn` names a resource moto skipped). The models
below build them with moto's own backends, so scripts/test_template_emulator.py can deploy the
whole template and then check, through cognito-idp and apigateway, what the stack built: the
pool, its app client (and sign in with it), the admin group, the authorizer, and which methods
it guards.

Only what the template needs, and only create and delete (an update replaces the resource).
`register()` must run before moto's CloudFormation first lists its models (moto_serialized.py
calls it at start-up).
"""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import Method, apigateway_backends
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_models import CloudFormationModel

# CloudFormation properties of AWS::Cognito::UserPool that are CreateUserPool parameters of the
# same name and shape.
_POOL_PARAMETERS = (
    "AccountRecoverySetting", "AdminCreateUserConfig", "AliasAttributes", "AutoVerifiedAttributes",
    "DeletionProtection", "DeviceConfiguration", "EmailConfiguration", "MfaConfiguration",
    "Policies", "Schema", "UserAttributeUpdateSettings", "UsernameAttributes",
    "UsernameConfiguration", "UserPoolTags", "UserPoolTier", "VerificationMessageTemplate",
)

# CloudFormation properties of AWS::Cognito::UserPoolClient that are CreateUserPoolClient
# parameters of the same name and shape.
_CLIENT_PARAMETERS = (
    "AccessTokenValidity", "AllowedOAuthFlows", "AllowedOAuthFlowsUserPoolClient",
    "AllowedOAuthScopes", "AuthSessionValidity", "CallbackURLs", "ClientName",
    "DefaultRedirectURI", "EnablePropagateAdditionalUserContextData", "EnableTokenRevocation",
    "ExplicitAuthFlows", "IdTokenValidity", "LogoutURLs", "PreventUserExistenceErrors",
    "ReadAttributes", "RefreshTokenValidity", "SupportedIdentityProviders", "TokenValidityUnits",
    "WriteAttributes",
)


class _Model:
    """Create and delete only; an update deletes the old resource and creates the new one.
    A mixin, not a CloudFormationModel subclass: moto lists only the direct subclasses of
    CloudFormationModel as its models, so each model below derives from both."""

    physical_resource_id: str

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes()

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ()

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return getattr(self, "cfn_" + attribute_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> None:
        """moto deletes through the created object's `delete` (see ResourceMap.delete)."""

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    def is_created(self) -> bool:
        return True


class CfnUserPool(_Model, CloudFormationModel):
    __module__ = "moto.cognitoidp.cfn_models"  # moto files its models by the service in their module name

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.physical_resource_id = pool.id
        self.cfn_Arn = pool.arn
        self.cfn_UserPoolId = pool.id
        self.cfn_ProviderName = f"cognito-idp.{pool.region}.amazonaws.com/{pool.id}"
        self.cfn_ProviderURL = f"https://{self.cfn_ProviderName}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> CfnUserPool:
        props = cloudformation_json.get("Properties", {})
        backend = cognitoidp_backends[account_id][region_name]
        config = {k: props[k] for k in _POOL_PARAMETERS if k in props}
        pool = backend.create_user_pool(props.get("UserPoolName", resource_name), config)
        # EnabledMfas is CloudFormation's; the API sets it through SetUserPoolMfaConfig.
        enabled = props.get("EnabledMfas", [])
        backend.set_user_pool_mfa_config(
            pool.id,
            sms_config=None,
            token_config={"Enabled": True} if "SOFTWARE_TOKEN_MFA" in enabled else None,
            mfa_config=props.get("MfaConfiguration", "OFF"),
        )
        return cls(pool)

    def delete(self, account_id: str, region_name: str) -> None:
        cognitoidp_backends[account_id][region_name].user_pools.pop(self.pool.id, None)


class CfnUserPoolClient(_Model, CloudFormationModel):
    __module__ = "moto.cognitoidp.cfn_models"  # moto files its models by the service in their module name

    def __init__(self, client: Any) -> None:
        self.client = client
        self.physical_resource_id = client.id
        self.cfn_ClientId = client.id
        self.cfn_Name = client.extended_config.get("ClientName")
        self.cfn_ClientSecret = client.secret if client.generate_secret else None

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ClientName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("ClientId", "ClientSecret", "Name")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> CfnUserPoolClient:
        props = cloudformation_json.get("Properties", {})
        config = {k: props[k] for k in _CLIENT_PARAMETERS if k in props}
        client = cognitoidp_backends[account_id][region_name].create_user_pool_client(
            props["UserPoolId"], bool(props.get("GenerateSecret", False)), config
        )
        return cls(client)

    def delete(self, account_id: str, region_name: str) -> None:
        pool = cognitoidp_backends[account_id][region_name].user_pools.get(self.client.user_pool_id)
        if pool is not None:
            pool.clients.pop(self.client.id, None)


class CfnUserPoolGroup(_Model, CloudFormationModel):
    __module__ = "moto.cognitoidp.cfn_models"  # moto files its models by the service in their module name

    def __init__(self, group: Any) -> None:
        self.group = group
        self.physical_resource_id = group.group_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolGroup"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> CfnUserPoolGroup:
        props = cloudformation_json.get("Properties", {})
        group = cognitoidp_backends[account_id][region_name].create_group(
            props["UserPoolId"], props.get("GroupName", resource_name), props.get("Description"),
            props.get("RoleArn"), props.get("Precedence"),
        )
        return cls(group)

    def delete(self, account_id: str, region_name: str) -> None:
        pool = cognitoidp_backends[account_id][region_name].user_pools.get(self.group.user_pool_id)
        if pool is not None:
            pool.groups.pop(self.group.group_name, None)


class CfnApiAuthorizer(_Model, CloudFormationModel):
    __module__ = "moto.apigateway.cfn_models"  # moto files its models by the service in their module name

    def __init__(self, rest_api_id: str, authorizer: Any) -> None:
        self.rest_api_id = rest_api_id
        self.authorizer = authorizer
        self.physical_resource_id = authorizer.id
        self.cfn_AuthorizerId = authorizer.id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Authorizer"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("AuthorizerId",)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> CfnApiAuthorizer:
        props = cloudformation_json.get("Properties", {})
        authorizer = apigateway_backends[account_id][region_name].create_authorizer(
            props["RestApiId"],
            props.get("Name", resource_name),
            props["Type"],
            provider_arns=props.get("ProviderARNs"),
            auth_type=props.get("AuthType"),
            authorizer_uri=props.get("AuthorizerUri"),
            authorizer_credentials=props.get("AuthorizerCredentials"),
            identity_source=props.get("IdentitySource"),
            identiy_validation_expression=props.get("IdentityValidationExpression"),
            authorizer_result_ttl=props.get("AuthorizerResultTtlInSeconds"),
        )
        return cls(props["RestApiId"], authorizer)

    def delete(self, account_id: str, region_name: str) -> None:
        api = apigateway_backends[account_id][region_name].apis.get(self.rest_api_id)
        if api is not None:
            api.authorizers.pop(self.authorizer.id, None)


def _method_keeps_its_authorizer() -> None:
    """moto's AWS::ApiGateway::Method keeps AuthorizationType but drops AuthorizerId and
    AuthorizationScopes; GetMethod then shows a Cognito method with no authorizer."""
    original = Method.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        method = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json["Properties"]
        method.authorizer_id = props.get("AuthorizerId")
        method.authorization_scopes = props.get("AuthorizationScopes")
        return method

    Method.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def register() -> None:
    """Makes the models above known to moto's CloudFormation (they are CloudFormationModel
    subclasses, which is how moto finds its models) and patches AWS::ApiGateway::Method."""
    from moto.cloudformation import parsing

    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    missing = {
        m.cloudformation_type() for m in (CfnUserPool, CfnUserPoolClient, CfnUserPoolGroup, CfnApiAuthorizer)
    } - set(parsing.get_model_map())
    if missing:
        raise RuntimeError(f"moto's CloudFormation did not pick up {sorted(missing)}")
    _method_keeps_its_authorizer()
