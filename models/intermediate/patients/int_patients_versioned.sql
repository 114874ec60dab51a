{%- set attributes = {
    'first_name': 'text',
    'last_name': 'text',
    'gender': 'text',
    'date_of_birth': 'date',
    'city': 'text',
    'state': 'text',
    'zip': 'text',
    'ssn': 'text',
    'phone': 'text',
    'email': 'text',
    'address_line': 'text',
} -%}
{#- Sort key of an observation as text elements that order exactly like the window below:
    instant_key (the instant as fixed-width UTC digits, then the source precedence 9 -
    source_rank as one digit, so that at one instant a lower rank sorts later and wins), then
    the observation id. -#}
{%- set sort_key = ['instant_key', 'observation_id'] -%}

with

observations as (
    select * from {{ ref('int_patient_observations') }}
),

observations_keyed as (
    select
        *,
        to_char(observed_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS') || cast(9 - source_rank as text)
            as instant_key
    from observations
),

-- attribute-level survivorship with EHR precedence, in one window pass: each attribute takes
-- the EHR's latest non-null value observed at or before the observation; where the EHR has
-- none yet, the latest non-null value of any source (same instant: the lower source_rank wins)
observations_survived as (
    select
        patient_id,
        observed_at,
        source_rank,
        observation_id,
        {%- for attribute, data_type in attributes.items() %}
            coalesce(
                {{ last_known_value(attribute, sort_key, 'observation_history', data_type, "source_system = 'ehr'") }},
                {{ last_known_value(attribute, sort_key, 'observation_history', data_type) }}
            ) as {{ attribute }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from observations_keyed
    window observation_history as (
        partition by patient_id
        order by observed_at asc, source_rank desc, observation_id asc
        rows between unbounded preceding and current row
    )
),

patient_observations as (
    select
        patient_id,
        observed_at,
        source_rank,
        observation_id,
        first_name,
        last_name,
        date_of_birth,
        city,
        state,
        zip,
        ssn,
        phone,
        email,
        address_line,
        coalesce(gender, 'unknown') as gender
    from observations_survived
),

{{ business_time_versions(
    'patient_observations',
    'patient_id',
    ['first_name', 'last_name', 'gender', 'date_of_birth', 'city', 'state', 'zip', 'ssn', 'phone', 'email', 'address_line'],
    observed_at_column='observed_at',
    tie_breaker_columns=['-source_rank', 'observation_id'],
) }}

select * from versions
