#!/usr/bin/env bash
# Nightly check of a customer list with `migo masivo`, for cron.
#
#   crontab -e     (every night at 02:30, Lima time)
#     CRON_TZ=America/Lima
#     30 2 * * *  . /etc/migo.env; /opt/migo/examples/cron.sh /datos/clientes.xlsx /datos/verificados
#
#   /etc/migo.env (chmod 600: it holds the token; or use migo's config file)
#     export MIGO_TOKEN=...
#     export MIGO_CACHE_DIR=/var/cache/migo      # optional
#
# Writes DESTINO/verificados-AAAA-MM-DD.xlsx, its JSON summary and a log per night
# (DESTINO/logs/migo-AAAA-MM-DD.log). Exit codes are migo's (README, "Códigos de
# salida"); a partial run (1) is retried once: the cache means only the failed
# RUCs are asked again. Set MIGO_ALERTA to a command that gets the message as its
# argument (mail, Slack webhook...) to hear about anything but a complete run.
# Extra options for migo: MIGO_OPCIONES="--rpm 600 --estricto".
set -uo pipefail

if [[ $# -lt 1 ]]; then
    echo "uso: $0 ENTRADA [DESTINO]" >&2
    exit 2
fi
ENTRADA=$1
DESTINO=${2:-$(dirname -- "$ENTRADA")}
MIGO=${MIGO:-migo}
REINTENTO_SEGUNDOS=${REINTENTO_SEGUNDOS:-300}
read -r -a OPCIONES <<<"${MIGO_OPCIONES:-}"

FECHA=$(date +%F)
mkdir -p -- "$DESTINO/logs" || exit 2
LOG="$DESTINO/logs/migo-$FECHA.log"
SALIDA="$DESTINO/verificados-$FECHA.xlsx"
RESUMEN="$DESTINO/resumen-$FECHA.json"

registrar() {
    printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"
}

alertar() {
    registrar "$1"
    if [[ -n ${MIGO_ALERTA:-} ]]; then
        ${MIGO_ALERTA} "migo ($FECHA): $1" >>"$LOG" 2>&1 || registrar "la alerta falló"
    fi
}

ejecutar() {
    registrar "inicio: $ENTRADA -> $SALIDA"
    # No -q: the log keeps a progress line every few seconds and the final summary.
    # No token check here: migo reads MIGO_TOKEN or its config file, and exits 2 without one.
    "$MIGO" masivo "$ENTRADA" -o "$SALIDA" --json-resumen "$RESUMEN" "${OPCIONES[@]}" \
        </dev/null >>"$LOG" 2>&1
}

ejecutar
codigo=$?
if [[ $codigo -eq 1 ]]; then
    registrar "parcial: se reintenta en $REINTENTO_SEGUNDOS s (solo los RUC con error)"
    sleep "$REINTENTO_SEGUNDOS"
    ejecutar
    codigo=$?
fi

case $codigo in
    0)
        registrar "completo: $SALIDA"
        ;;
    1)
        alertar "parcial: algunos RUC quedaron con error tras el reintento; ver $SALIDA (hoja errores)"
        ;;
    2)
        alertar "error de uso o de entrada (archivo, columna, salida bloqueada, saldo con --estricto); ver $LOG"
        ;;
    3)
        alertar "token rechazado o consultas agotadas: revise la cuenta (migo cuenta); lo respondido está en $SALIDA"
        ;;
    130 | 143)
        alertar "interrumpido (código $codigo); lo respondido está en $SALIDA"
        ;;
    *)
        alertar "código inesperado $codigo; ver $LOG"
        ;;
esac
exit "$codigo"
